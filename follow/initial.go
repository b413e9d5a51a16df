package follow

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/plan"
	"github.com/tidelog/tidelog/replay"
	"github.com/tidelog/tidelog/restore"
	"github.com/tidelog/tidelog/segment"
)

// waitLogEvery bounds how often the initial restore says it still waits.
const waitLogEvery = 30 * time.Second

// initialRestore brings the target to the newest restorable position of
// the stream (or the --until or --delay horizon, if earlier) exactly as
// replayer restore does, and commits it as the follower's first position.
//
// Before its first write it commits "restoring" with every namespace the
// restore may write. prev, when set, is such a record left by a process
// that stopped before it finished: those namespaces are its own partial
// work (the target held none of them before, or --drop replaced them), so
// they are dropped and the restore starts over — with the usual check of
// the target, so nothing else is ever overwritten.
func (f *Follower) initialRestore(ctx context.Context, prev *State) (State, error) {
	f.setPhase(PhaseRestoring)
	if prev != nil {
		if err := f.undoRestore(ctx, prev); err != nil {
			return State{}, err
		}
	}
	prep, err := f.waitRestorable(ctx)
	if err != nil {
		return State{}, err
	}
	f.opts.Stream = prep.Stream
	f.setStream(prep.Stream)
	ropts := f.restoreOptions(prep.Plan.To)
	v, err := restore.Verify(ctx, f.opts.Store, prep, ropts, f.log)
	if err != nil {
		return State{}, err
	}
	if !f.opts.Drop {
		if err := v.CheckTarget(ctx, f.opts.Target, ropts); err != nil {
			return State{}, err
		}
	}
	if err := f.recordRestore(v, ropts); err != nil {
		return State{}, err
	}
	if hook := f.opts.afterInitialRecord; hook != nil {
		if err := hook(); err != nil {
			return State{}, &stopNow{err: err}
		}
	}
	res, err := restore.Write(ctx, f.opts.Store, v, f.opts.Target, ropts, f.log)
	if err != nil {
		return State{}, fmt.Errorf("initial restore: %w (the next start drops what it wrote and restores again)", err)
	}
	if hook := f.opts.afterInitialRestore; hook != nil {
		if err := hook(); err != nil {
			return State{}, &stopNow{err: err}
		}
	}
	return f.restored(ctx, prep, res)
}

// undoRestore drops what an interrupted initial restore may have written.
func (f *Follower) undoRestore(ctx context.Context, prev *State) error {
	r := prev.Restore
	f.log.Warn().Str("stream", prev.Stream).Stringer("to", r.To).Time("started", r.Started).Strs("namespaces", r.Namespaces).
		Msg("the initial restore was interrupted before it finished: dropping the namespaces it may have written, then restoring again")
	if err := replay.PrepareTarget(ctx, f.opts.Target, r.Namespaces, true, f.log); err != nil {
		return fmt.Errorf("undo the interrupted initial restore: %w", err)
	}
	return nil
}

// waitRestorable plans the initial restore, waiting while the store holds
// nothing restorable yet (tailerd has not cut a segment) or --delay holds
// back every restorable position.
func (f *Follower) waitRestorable(ctx context.Context) (*restore.Prepared, error) {
	var logged time.Time
	for {
		prep, err := f.prepare(ctx)
		if err == nil {
			return prep, nil
		}
		if !f.worthWaiting(err) {
			return nil, err
		}
		if time.Since(logged) >= waitLogEvery {
			f.log.Info().Err(err).Dur("delay", f.opts.Delay).Msg("nothing restorable yet: waiting for tailerd's segments (and --delay) before the initial restore")
			logged = time.Now()
		}
		if !sleep(ctx, f.opts.Poll) {
			return nil, ctx.Err()
		}
	}
}

// prepare plans a restore to the newest restorable position, or to the
// horizon (--until, --delay) when that is earlier.
func (f *Follower) prepare(ctx context.Context) (*restore.Prepared, error) {
	if f.opts.Stream == "" {
		names, err := f.opts.Store.Streams(ctx)
		if err != nil {
			return nil, fmt.Errorf("list streams in %s: %w", f.opts.Store, err)
		}
		if len(names) == 0 {
			return nil, errNothingYet
		}
	}
	prep, err := restore.Prepare(ctx, f.opts.Store, f.restoreOptions(oplog.Max))
	var le *restore.LatestError
	if errors.As(err, &le) && !le.Without.Before(f.horizon()) {
		// The snapshot that cannot be used reaches only past the horizon
		// (--until, --delay), which is restorable without it.
		return f.prepareTo(ctx, f.horizon())
	}
	if err != nil {
		return nil, err
	}
	if h := f.horizon(); prep.Plan.To.After(h) {
		return f.prepareTo(ctx, h)
	}
	f.noteUnreadable(prep)
	return prep, nil
}

// prepareTo plans a restore to position to.
func (f *Follower) prepareTo(ctx context.Context, to oplog.Timestamp) (*restore.Prepared, error) {
	prep, err := restore.Prepare(ctx, f.opts.Store, f.restoreOptions(to))
	if err != nil {
		return nil, err
	}
	f.noteUnreadable(prep)
	return prep, nil
}

// noteUnreadable logs each snapshot the plan left out: the restore is exact
// without it, but replays more, and the snapshot needs a person (a key, or
// a damaged or refused snapshot to look at).
func (f *Follower) noteUnreadable(prep *restore.Prepared) {
	for _, u := range prep.Unreadable {
		f.log.Warn().Err(u.Err).Str("stream", prep.Stream).Str("snapshot", u.ID).
			Msg("snapshot left out of the initial restore's plan: it cannot be used (see the error)")
	}
}

// worthWaiting tells the planning failures time cures: nothing restorable
// yet, or every restorable position still newer than the --delay horizon.
// A position the store will never restore (--until before every window)
// is not one.
func (f *Follower) worthWaiting(err error) bool {
	if errors.Is(err, errNothingYet) {
		return true
	}
	if keyError(err) {
		return false // snapshots the plan had to leave out
	}
	var we *plan.WindowError
	if !errors.As(err, &we) {
		return false
	}
	return len(we.Windows) == 0 || !f.untilBinds(f.horizon())
}

func (f *Follower) restoreOptions(to oplog.Timestamp) restore.Options {
	return restore.Options{Stream: f.opts.Stream, To: to, Drop: f.opts.Drop, Workers: f.opts.Workers, Apply: f.opts.Apply,
		Keys: f.opts.Keys, RequireEncryption: f.opts.RequireEncryption}
}

// recordRestore commits "initial restore in progress" with every namespace
// it may write, before its first write.
func (f *Follower) recordRestore(v *restore.Verified, ropts restore.Options) error {
	rec := &RestoreRecord{To: v.Plan.To, Namespaces: v.Namespaces(ropts), Started: f.opts.Clock.Now()}
	if v.Snapshot != nil {
		rec.Snapshot = v.Snapshot.ID
	}
	return f.ckpt.Save(State{Store: f.opts.Store.String(), Stream: v.Stream, Target: f.opts.TargetName,
		Phase: PhaseRestoring, Restore: rec, Committed: f.opts.Clock.Now()})
}

// restored commits the finished initial restore as the first position:
// the plan's last segment (its checksum, the link the next one carries,
// is read from the store) and the replay's resume point.
func (f *Follower) restored(ctx context.Context, prep *restore.Prepared, res restore.Result) (State, error) {
	if len(prep.Plan.Segments) == 0 {
		return State{}, fmt.Errorf("stream %s: the restore to %s read no segment, so there is no chain to follow", prep.Stream, prep.Plan.To)
	}
	last := prep.Plan.Segments[len(prep.Plan.Segments)-1]
	info, err := f.verifySegment(ctx, prep.Stream, last.Name)
	if err != nil {
		return State{}, err
	}
	through := prep.Plan.To
	if last.Header.OpEnd.Before(through) {
		through = last.Header.OpEnd
	}
	state := State{Store: f.opts.Store.String(), Stream: prep.Stream, Target: f.opts.TargetName, Phase: PhaseFollowing,
		Segment: last.Name, Link: info.Link(), Encrypted: info.Encrypted, Applied: res.Replay.Applied, Written: res.Replay.Written, Through: through, Committed: f.opts.Clock.Now()}
	if err := f.ckpt.Save(state); err != nil {
		return State{}, err
	}
	f.addEntries(res.Replay.Entries)
	f.log.Info().Str("stream", prep.Stream).Stringer("through", through).Stringer("resume_point", state.Applied).
		Uint64("entries", res.Replay.Entries).Msg("initial restore committed")
	return state, nil
}

// verifySegment reads one segment in full and returns its description.
func (f *Follower) verifySegment(ctx context.Context, stream, name string) (segment.Info, error) {
	rc, err := f.opts.Store.OpenSegment(ctx, stream, name)
	if err != nil {
		return segment.Info{}, fmt.Errorf("open %s/%s in %s: %w", stream, name, f.opts.Store, err)
	}
	defer rc.Close()
	return segment.VerifyWith(rc, name, f.opts.readOptions())
}
