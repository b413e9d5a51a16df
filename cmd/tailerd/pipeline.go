package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tidelog/tidelog/checkpoint"
	"github.com/tidelog/tidelog/cycle"
	"github.com/tidelog/tidelog/store"
	"github.com/tidelog/tidelog/tailer"
	"github.com/tidelog/tidelog/topology"
)

// pipelines runs one replica set's capture and backup cycle each, sharing
// the store and the checkpoint (whose keys are per stream), and remembers
// the running cycles so that SIGUSR1 reaches every one of them.
type pipelines struct {
	cfg  config
	st   store.Store
	ckpt *checkpoint.DB
	log  zerolog.Logger
	// named is false when following one replica set found from --source:
	// its stream is --stream or the set name the tailer reads, as before
	// clusters existed. In a cluster or a --member list every stream is the
	// replica set's Name (a shard's _id), which --stream cannot override.
	named bool

	// unclean counts pipelines stopped with an open segment not stored.
	unclean atomic.Int32
	// stoppedOnGap: a pipeline met a gap while tailerd was stopping, when
	// the supervisor no longer reports errors.
	stoppedOnGap atomic.Bool

	mu     sync.Mutex
	cycles map[string]*cycle.Runner // guarded by mu
}

// run is the capture.RunFunc: it captures rs until ctx ends (cutting and
// committing the open segment) or capture fails. The backup cycle runs
// beside it and stops with it.
func (p *pipelines) run(ctx context.Context, rs topology.ReplicaSet) error {
	log := p.log.With().Str("rs", rs.Name).Str("role", string(rs.Role)).Logger()
	opts := options.Client().ApplyURI(rs.URI).SetServerSelectionTimeout(p.cfg.ConnectTimeout).SetAppName("tidelog-tailerd")
	client, err := mongo.Connect(opts)
	if err != nil {
		return &tailer.SourceError{Err: fmt.Errorf("connect to %s: %w", rs.RedactedURI(), err)}
	}
	defer func() {
		if err := client.Disconnect(context.WithoutCancel(ctx)); err != nil {
			log.Debug().Err(err).Msg("disconnecting from the replica set")
		}
	}()
	tcfg := p.cfg.tailer
	ccfg := p.cfg.cycle()
	if p.named {
		tcfg.Stream, ccfg.Snapshot.Stream = rs.Name, rs.Name
	}
	t := tailer.New(client, p.st, p.ckpt, tcfg, log)
	backups := cycle.New(client, p.st, p.ckpt, ccfg, log)
	p.register(rs.Name, backups)
	defer p.register(rs.Name, nil)

	cycleCtx, stopCycle := context.WithCancel(ctx)
	cycleDone := make(chan struct{})
	go func() {
		defer close(cycleDone)
		if err := backups.Run(cycleCtx); err != nil {
			log.Error().Err(err).Msg("backup cycle stopped: no more snapshots of this replica set until its capture restarts; capture goes on")
		}
	}()
	err = t.Run(ctx)
	stopCycle()
	<-cycleDone
	if ctx.Err() != nil {
		var gap *tailer.GapError
		if errors.As(err, &gap) {
			// Found while stopping: still lost history, still exit 3.
			p.stoppedOnGap.Store(true)
			return err
		}
		if err != nil {
			// The supervisor drops errors of a pipeline it stopped; this
			// one must still reach the operator.
			p.unclean.Add(1)
			log.Warn().Err(err).Msg("capture stopped, but the open segment could not be stored: its entries are read again from the source at the next start, if its oplog still holds them")
			return err
		}
		log.Info().Msg("capture stopped: open segment cut and committed")
	}
	return err
}

func (p *pipelines) register(name string, r *cycle.Runner) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r == nil {
		delete(p.cycles, name)
		return
	}
	p.cycles[name] = r
}

// triggerSnapshots asks every running cycle for a snapshot now. Each
// replica set's snapshot is its own: a cluster restore to T starts each
// replica set from its newest snapshot before T and replays to T.
func (p *pipelines) triggerSnapshots() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.cycles {
		r.Trigger()
	}
}

// fatal says which pipeline errors stop the whole daemon instead of a
// restart with backoff: lost history needs a person's decision, and a
// location that is not a tidelog store or a checkpoint that is not ours
// will not mend by retrying, nor will a store that disagrees with the
// checkpoint. A source or store outage is retried.
func fatal(err error) bool {
	var gap *tailer.GapError
	return errors.As(err, &gap) || errors.Is(err, store.ErrNotStore) || errors.Is(err, checkpoint.ErrCorrupt) ||
		errors.Is(err, tailer.ErrStoreMismatch)
}
