package follow

import (
	"errors"
	"fmt"
	"time"

	"github.com/tidelog/tidelog/crypt"
	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/plan"
	"github.com/tidelog/tidelog/replay"
	"github.com/tidelog/tidelog/segment"
	"github.com/tidelog/tidelog/store"
)

// GapError stops a follower at a gap the store records: tailerd lost
// history (the source's oplog rolled over) right after the last segment
// applied, and the next segment starts a new chain. No entry after the gap
// can be applied on top of the target: what happened in between is unknown.
type GapError struct {
	Stream  string
	Gap     store.Gap
	Segment string // the segment after the gap
	// Through: the target holds the source's data as of this position
	// (Result.Through): everything verified before the gap is applied.
	Through oplog.Timestamp
}

func (e *GapError) Error() string {
	return fmt.Sprintf("stream %s: the store records a gap after %s (entries up to %s were lost at the source: %s), and segment %s starts a new chain after it. "+
		"The target holds the stream through %s and cannot follow past the gap. To go on, start the standby over from a base taken after the gap: "+
		"have tailerd take a snapshot (SIGUSR1, or --snapshot-every), then move the --checkpoint directory aside and run replayer follow again with --drop",
		e.Stream, e.Gap.After, e.Gap.Next, e.Gap.Reason, e.Segment, e.Through)
}

// ChainError stops a follower at a segment that does not continue what it
// applied, with no gap recorded to explain it: the store was damaged,
// edited, or is not the one this checkpoint followed.
type ChainError struct {
	Stream  string
	Segment string
	Reason  string
	// Through: the target holds the source's data as of this position
	// (Result.Through): everything verified before the segment is applied.
	Through oplog.Timestamp
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("stream %s: segment %s %s; nothing of it was applied. The target holds the stream through %s. "+
		"Run `replayer verify` on the store for a full report; the follower cannot go on until the chain is whole again "+
		"(or start the standby over: move the --checkpoint directory aside and run replayer follow again with --drop)",
		e.Stream, e.Segment, e.Reason, e.Through)
}

// Is makes a broken chain match segment.ErrCorrupt: the store is damaged.
func (e *ChainError) Is(target error) bool { return target == segment.ErrCorrupt }

// MismatchError refuses a checkpoint made for another store, stream or
// target: following with it would write the wrong data silently.
type MismatchError struct {
	Dir, What, Have, Want string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("checkpoint %s follows %s %q, not %q: give each standby its own --checkpoint directory "+
		"(to start this one over onto %q, move the directory aside and run with --drop)", e.Dir, e.What, e.Have, e.Want, e.Want)
}

// PastUntilError refuses an --until before what the target already holds.
type PastUntilError struct {
	Until, Through oplog.Timestamp
}

func (e *PastUntilError) Error() string {
	return fmt.Sprintf("--until %s is before what the target already holds (entries through %s): a follower only goes forward; "+
		"to get the data at %s, restore it elsewhere with replayer restore --to %s", e.Until, e.Through, e.Until, e.Until)
}

// UnfinishedCycleError refuses a horizon (--until, --delay) before what a
// cycle cut short before its commit may have written: the target may hold
// entries up to UpTo, and a follower cannot take writes back, so going on
// would report the target at a position it has passed.
type UnfinishedCycleError struct {
	Dir     string
	Horizon oplog.Timestamp // where --until or --delay put it now
	Delay   time.Duration   // the --delay behind Horizon (0: --until)
	UpTo    oplog.Timestamp // the newest entry the cut cycle applied
	Through oplog.Timestamp // the last commit
}

func (e *UnfinishedCycleError) Error() string {
	what := fmt.Sprintf("--until %s", e.Horizon)
	fix := fmt.Sprintf("Start it with --until %s or later (or none) to finish that apply", e.UpTo)
	if e.Delay > 0 {
		what = fmt.Sprintf("--delay %s puts the horizon at %s, which", e.Delay, e.Horizon)
		wait := time.Duration(e.UpTo.T-e.Horizon.T) * time.Second
		fix = fmt.Sprintf("Start it with a --delay of at most the last run's, or wait %s for the horizon to reach %s, to finish that apply", wait, e.UpTo)
	}
	return fmt.Sprintf("checkpoint %s: a run was stopped before it committed an apply that may have written entries up to %s to the target "+
		"(committed through %s); %s is before that, and a follower cannot take writes back. %s. "+
		"To get the data at %s, restore it elsewhere with replayer restore --to %s",
		e.Dir, e.UpTo, e.Through, what, fix, e.Horizon, e.Horizon)
}

// stopNow is an error that ends Run at once, without the retries other
// failures get (the test hooks' simulated kills).
type stopNow struct{ err error }

func (e *stopNow) Error() string { return e.err.Error() }
func (e *stopNow) Unwrap() error { return e.err }

// permanent tells the failures retrying cannot fix: they stop the follower
// with what to do. Everything else (the target or the store unreachable, a
// write refused) is retried from the last commit, with backoff.
func permanent(err error) bool {
	var (
		ge *GapError
		le *LateEntryError
		ce *ChainError
		me *MismatchError
		pe *PastUntilError
		uc *UnfinishedCycleError
		sn *stopNow
		ue *replay.UnsupportedError
		cf *replay.ConflictError
		we *plan.WindowError
	)
	return errors.As(err, &ge) || errors.As(err, &le) || errors.As(err, &ce) || errors.As(err, &me) || errors.As(err, &pe) ||
		errors.As(err, &uc) || errors.As(err, &sn) || errors.As(err, &ue) || errors.As(err, &cf) || errors.As(err, &we) ||
		errors.Is(err, segment.ErrCorrupt) || errors.Is(err, segment.ErrUnsupported) ||
		errors.Is(err, store.ErrNotStore) || errors.Is(err, ErrCheckpoint) || errors.Is(err, ErrPruned) || keyError(err)
}

// keyError tells a segment or snapshot the keys given cannot read, or a
// plaintext one refused: waiting does not give keys.
func keyError(err error) bool {
	return errors.Is(err, crypt.ErrKeyRequired) || errors.Is(err, crypt.ErrWrongKey) || errors.Is(err, crypt.ErrNotEncrypted)
}

// ErrPruned: a segment the follower needs is no longer in the store
// (retention pruned it, or it was deleted). The standby cannot go on: it
// must start over from a snapshot.
var ErrPruned = errors.New("segment needed by the follower is no longer in the store")
