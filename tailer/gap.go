package tailer

import (
	"fmt"
	"strings"

	"github.com/tidelog/tidelog/oplog"
)

// GapError reports that the source's oplog no longer reaches back to the
// last durable position: entries after After and before Next are lost to
// tidelog. It is recorded in the checkpoint and the store before it is
// returned; the daemon exits with a distinct code rather than carry on.
type GapError struct {
	Stream string
	After  oplog.Timestamp // last position tidelog holds
	Next   oplog.Timestamp // oldest entry the source still has (zero: none)
	// Late, when set, is an entry the source made visible only after the
	// reader had passed it (poll mode, see reader.settle): the segments up
	// to After lack it, though the oplog still holds everything after After.
	Late *oplog.Timestamp
}

func (e *GapError) Error() string {
	if e.Late != nil {
		return fmt.Sprintf("gap in stream %s: oplog entry %s became visible on the source only after tidelog had read past it, "+
			"so the segments up to %s lack it; restores of this stream can reach only positions before %s until a base snapshot "+
			"is taken after %s. The source shows oplog holes to readers (FerretDB does): raise --poll-settle and restart tailerd "+
			"with --accept-gap (it goes on right after %s, in a new chain), then take a new base snapshot (SIGUSR1)",
			e.Stream, *e.Late, e.After, *e.Late, e.After, e.After)
	}
	next := e.Next.String()
	if e.Next.IsZero() {
		next = "(none: the oplog is empty)"
	}
	return fmt.Sprintf("gap in stream %s: the oplog no longer holds %s (last durable position); its oldest entry is %s. "+
		"History between them is lost. Restart tailerd with --accept-gap to start a new chain at the oldest entry, then take a "+
		"new base snapshot (SIGUSR1) so that restores can reach the new chain; enlarge the oplog (replSetResizeOplog) so the "+
		"tailer's downtime fits in it",
		e.Stream, e.After, next)
}

// OrderError reports that the source returned an entry whose ts is not after
// the previous one. The tailer stops instead of guessing which is right.
type OrderError struct {
	Stream    string
	Prev, Got oplog.Timestamp
}

func (e *OrderError) Error() string {
	return fmt.Sprintf("stream %s: oplog entry %s arrived after %s; the source returned entries out of order, "+
		"so tidelog stopped rather than skip or reorder them (for FerretDB use cursor mode poll)", e.Stream, e.Got, e.Prev)
}

// GapNotRecordedError is a gap that could not be recorded in the
// checkpoint, the store, or both. It unwraps to the *GapError (so the
// daemon stops as for any gap, exit 3) and to the write failures. The
// stop is what keeps the gap from being lost: the next start looks for it
// again (a rolled oplog still does not reach back; a late entry is among
// the stored entries recheck looks behind after a restart) while the
// source still holds it.
type GapNotRecordedError struct {
	Gap               *GapError
	Checkpoint, Store error // nil: recorded there
}

func (e *GapNotRecordedError) Error() string {
	where := "the checkpoint and the store"
	switch {
	case e.Checkpoint == nil:
		where = "the store (the checkpoint holds it, and the next start puts it in the store before anything else)"
	case e.Store == nil:
		where = "the checkpoint (the store holds it, so restores stop before it)"
	}
	var causes []string
	if e.Checkpoint != nil {
		causes = append(causes, "checkpoint: "+e.Checkpoint.Error())
	}
	if e.Store != nil {
		causes = append(causes, "store: "+e.Store.Error())
	}
	restores := "restores that cross it would miss the history it names"
	if e.Store == nil {
		restores = "restores stop before it"
	}
	return fmt.Sprintf("%s. THIS GAP IS NOT RECORDED in %s (%s). Until it is, %s. "+
		"Make the checkpoint directory and the store writable, then restart tailerd soon: it looks for the gap again "+
		"(a late entry is found again only while the source's oplog still holds it), records it and stops again; "+
		"then go on as the gap's own advice says",
		e.Gap.Error(), where, strings.Join(causes, "; "), restores)
}

// Unwrap returns the gap and the write failures.
func (e *GapNotRecordedError) Unwrap() []error {
	errs := []error{e.Gap}
	for _, err := range []error{e.Checkpoint, e.Store} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}
