// Package capture runs tailerd's work for a whole deployment: one pipeline
// (a tailer and its backup cycle) per replica set — each shard and the
// config server of a sharded cluster — started as replica sets appear and
// stopped as they go, each with its own checkpoint stream.
package capture

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/tidelog/tidelog/topology"
)

// RunFunc runs the pipeline of one replica set until ctx ends (then it
// returns nil after cutting what it holds) or it fails.
type RunFunc func(ctx context.Context, rs topology.ReplicaSet) error

// Supervisor keeps one pipeline running per replica set of the topology it
// is told about. A pipeline that fails is restarted with backoff (a shard
// down for a while must not stop the others' capture), unless Fatal says
// the error needs a person (a gap): then every pipeline stops and Wait
// returns that error.
type Supervisor struct {
	run   RunFunc
	fatal func(error) bool
	log   zerolog.Logger
	retry time.Duration // first restart delay (tests shorten it)

	ctx    context.Context
	cancel context.CancelCauseFunc

	mu      sync.Mutex
	members map[string]*member // by replica set name; guarded by mu
	wg      sync.WaitGroup
}

type member struct {
	rs     topology.ReplicaSet
	cancel context.CancelFunc
	done   chan struct{}
}

// Backoff bounds for restarting a failed pipeline.
const (
	firstRetry = time.Second
	maxRetry   = time.Minute
)

// New returns a Supervisor whose pipelines live until ctx ends. fatal
// tells errors that must stop the whole daemon; nil: none do.
func New(ctx context.Context, run RunFunc, fatal func(error) bool, log zerolog.Logger) *Supervisor {
	if fatal == nil {
		fatal = func(error) bool { return false }
	}
	ctx, cancel := context.WithCancelCause(ctx)
	return &Supervisor{run: run, fatal: fatal, log: log, retry: firstRetry, ctx: ctx, cancel: cancel, members: map[string]*member{}}
}

// Apply starts a pipeline for each added replica set, stops the pipeline
// of each removed one (its stream stays in the store, restorable), and
// restarts the pipeline of a changed one whose connection changed.
func (s *Supervisor) Apply(c topology.Changes) {
	for _, rs := range c.Removed {
		s.log.Warn().Str("stream", rs.Name).Msg("replica set left the deployment: its capture stops; what it captured stays restorable")
		s.stop(rs.Name)
	}
	for _, rs := range c.Changed {
		s.mu.Lock()
		m, ok := s.members[rs.Name]
		same := ok && m.rs.URI == rs.URI
		if same {
			m.rs = rs // draining and other flags: the pipeline goes on as it is
		}
		s.mu.Unlock()
		if same {
			continue
		}
		s.log.Info().Str("stream", rs.Name).Str("uri", rs.RedactedURI()).Msg("replica set's hosts changed: reconnecting its capture")
		s.stop(rs.Name)
		s.start(rs)
	}
	for _, rs := range c.Added {
		s.start(rs)
	}
}

// Running lists the replica sets with a pipeline.
func (s *Supervisor) Running() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.members))
	for name := range s.members {
		out = append(out, name)
	}
	return out
}

// Wait waits until every pipeline has stopped: after the parent context
// ended (nil) or a fatal error (that error).
func (s *Supervisor) Wait() error {
	<-s.ctx.Done()
	s.wg.Wait()
	if err := context.Cause(s.ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// Stop ends every pipeline, as the end of the parent context does.
func (s *Supervisor) Stop() { s.cancel(context.Canceled) }

func (s *Supervisor) start(rs topology.ReplicaSet) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.members[rs.Name]; ok || s.ctx.Err() != nil {
		return
	}
	ctx, cancel := context.WithCancel(s.ctx)
	m := &member{rs: rs, cancel: cancel, done: make(chan struct{})}
	s.members[rs.Name] = m
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(m.done)
		s.keepRunning(ctx, rs)
	}()
}

func (s *Supervisor) stop(name string) {
	s.mu.Lock()
	m, ok := s.members[name]
	delete(s.members, name)
	s.mu.Unlock()
	if ok {
		m.cancel()
		<-m.done
	}
}

// keepRunning runs rs's pipeline until ctx ends, restarting it after a
// failure with exponential backoff, and stops everything on a fatal one.
func (s *Supervisor) keepRunning(ctx context.Context, rs topology.ReplicaSet) {
	log := s.log.With().Str("stream", rs.Name).Str("role", string(rs.Role)).Logger()
	wait := s.retry
	for {
		began := time.Now()
		err := s.run(ctx, rs)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("pipeline returned without being asked to stop")
		}
		if s.fatal(err) {
			log.Error().Err(err).Msg("capture of this replica set needs attention: stopping every pipeline")
			s.cancel(fmt.Errorf("stream %s: %w", rs.Name, err))
			return
		}
		if time.Since(began) > maxRetry {
			wait = s.retry // it ran well for a while: this is a new failure
		}
		log.Error().Err(err).Dur("retry_in", wait).Msg("capture of this replica set failed; restarting it (the others go on)")
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(wait*2, maxRetry)
	}
}
