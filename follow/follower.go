package follow

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/tidelog/tidelog/oplog"
)

// maxBackoff bounds the wait between retries after a failure.
const maxBackoff = 10 * time.Second

// Reason says why Run returned without an error.
type Reason string

const (
	// ReasonUntil: every entry up to Options.Until is applied.
	ReasonUntil Reason = "until"
	// ReasonStopped: the context ended (SIGINT, SIGTERM) and the last
	// apply was committed.
	ReasonStopped Reason = "stopped"
	// ReasonRestoreInterrupted: the context ended during the initial
	// restore; the next start undoes it and restores again.
	ReasonRestoreInterrupted Reason = "restore interrupted"
)

// Result is where a follower stopped.
type Result struct {
	Stream string
	Reason Reason
	// Through: the target holds the source's data as of this position.
	Through oplog.Timestamp
	// Applied is the committed resume point (at or before Through).
	Applied oplog.Timestamp
	// OpenTxns are transactions begun at or before Through and not
	// committed by then: not applied (nor visible on the source then).
	OpenTxns int
}

// Follower keeps a target in sync with one stream of a store.
type Follower struct {
	opts Options
	log  zerolog.Logger
	ckpt *Checkpoint

	mu     sync.Mutex
	status status
}

// New checks opts; Run does the work.
func New(opts Options) (*Follower, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Follower{opts: o, log: o.Log, status: status{phase: "starting", stream: o.Stream}}, nil
}

// Run follows until ctx ends (then it lets the apply under way finish and
// commit, and returns ReasonStopped), Until is reached, or a failure that
// retrying cannot fix: a gap, a broken chain, a damaged segment, an entry
// the replayer cannot apply, a checkpoint made for something else. Other
// failures (the target or the store unreachable) are logged and retried
// from the last commit, with backoff.
func (f *Follower) Run(ctx context.Context) (Result, error) {
	ckpt, err := OpenCheckpoint(f.opts.CheckpointDir, f.log)
	if err != nil {
		return Result{}, err
	}
	defer ckpt.Close()
	f.ckpt = ckpt
	state, err := f.start(ctx)
	if err != nil {
		f.failed(err)
		if ctx.Err() != nil && !permanent(err) {
			f.log.Warn().Err(err).Msg("stopped during the initial restore: the next start drops what it wrote and restores again")
			return Result{Stream: f.stream(), Reason: ReasonRestoreInterrupted}, nil
		}
		return Result{Stream: f.stream()}, err
	}
	return f.follow(ctx, state)
}

// start loads the checkpoint, refuses one made for something else, and
// runs (or redoes) the initial restore when it is not done.
func (f *Follower) start(ctx context.Context) (State, error) {
	state, ok, err := f.ckpt.Load()
	if err != nil {
		return State{}, err
	}
	if ok {
		if err := f.checkIdentity(state); err != nil {
			return State{}, err
		}
		f.opts.Stream = state.Stream
		f.setStream(state.Stream)
	}
	if !ok || state.Phase == PhaseRestoring {
		var prev *State
		if ok {
			prev = &state
		}
		if state, err = f.initialRestore(ctx, prev); err != nil {
			return State{}, err
		}
	}
	if u := f.opts.Until; !u.IsZero() && state.Through.After(u) {
		return State{}, &PastUntilError{Until: u, Through: state.Through}
	}
	if err := f.checkUnfinished(state); err != nil {
		return State{}, err
	}
	f.committed(state, 0, 0, 0)
	f.log.Info().Str("stream", state.Stream).Stringer("through", state.Through).Stringer("resume_point", state.Applied).
		Str("segment", state.Segment).Msg("following the store")
	return state, nil
}

// checkIdentity refuses a checkpoint made for another store, stream or target.
func (f *Follower) checkIdentity(s State) error {
	dir := f.ckpt.Dir()
	switch {
	case s.Store != f.opts.Store.String():
		return &MismatchError{Dir: dir, What: "store", Have: s.Store, Want: f.opts.Store.String()}
	case f.opts.Stream != "" && s.Stream != f.opts.Stream:
		return &MismatchError{Dir: dir, What: "stream", Have: s.Stream, Want: f.opts.Stream}
	case f.opts.TargetName != "" && s.Target != "" && s.Target != f.opts.TargetName:
		return &MismatchError{Dir: dir, What: "target", Have: s.Target, Want: f.opts.TargetName}
	}
	return nil
}

// follow runs sessions until one ends the follower; a failure retrying may
// fix starts a new session from the last commit after a backoff.
func (f *Follower) follow(ctx context.Context, state State) (Result, error) {
	backoff := f.opts.Poll
	for {
		started := state
		res, err := f.session(ctx, state)
		if err == nil || permanent(err) {
			if err != nil {
				f.failed(err)
			}
			return res, err
		}
		state = f.lastCommitted()
		if state.Through.After(started.Through) {
			backoff = f.opts.Poll // it was applying: a new failure
		}
		if ctx.Err() != nil {
			// Stopped while failing: the last commit stands.
			return f.result(state, ReasonStopped, 0), nil
		}
		f.failed(err)
		f.log.Error().Err(err).Dur("retry_in", backoff).Stringer("through", state.Through).
			Msg("apply failed; retrying from the last commit (the target stays consistent at it). If this repeats, check that the target and the store are reachable")
		if !sleep(ctx, backoff) {
			return f.result(state, ReasonStopped, 0), nil
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// session applies from state until Until, a stop or a failure.
func (f *Follower) session(ctx context.Context, state State) (Result, error) {
	work, cancel := graceful(ctx, stopGrace)
	defer cancel()
	s, err := f.newSession(work, state)
	if err != nil {
		return f.result(state, "", 0), err
	}
	defer s.close()
	for {
		committed, err := s.cycle(work)
		if err != nil {
			return f.result(s.state, "", s.a.OpenTxns()), err
		}
		if s.reached(f.horizon()) {
			return f.finishUntil(s), nil
		}
		if ctx.Err() != nil {
			f.log.Info().Stringer("through", s.state.Through).Msg("stopped; the last apply is committed")
			return f.result(s.state, ReasonStopped, s.a.OpenTxns()), nil
		}
		if !committed && !sleep(ctx, f.opts.Poll) {
			return f.result(s.state, ReasonStopped, s.a.OpenTxns()), nil
		}
	}
}

// finishUntil reports a follower that reached Until.
func (f *Follower) finishUntil(s *session) Result {
	res := f.result(s.state, ReasonUntil, s.a.OpenTxns())
	ev := f.log.Info()
	if res.OpenTxns > 0 {
		ev = f.log.Warn().Int("open_transactions", res.OpenTxns)
	}
	ev.Stringer("until", f.opts.Until).Stringer("through", res.Through).
		Msg("--until reached: every entry up to it is applied (transactions still open there commit after it, and are not applied)")
	return res
}

func (f *Follower) result(s State, why Reason, open int) Result {
	return Result{Stream: s.Stream, Reason: why, Through: s.Through, Applied: s.Applied, OpenTxns: open}
}

// errNothingYet: the store holds nothing to restore yet; the initial
// restore waits for it.
var errNothingYet = errors.New("the store holds no stream yet")

// stream is the followed stream's name, once known.
func (f *Follower) stream() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status.stream
}

func (f *Follower) setStream(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status.stream = name
}

// lastCommitted is the state of the last commit.
func (f *Follower) lastCommitted() State {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status.state
}
