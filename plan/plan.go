// Package plan decides how a timestamp is restored: from which base (a
// snapshot, or the start of capture) and through which segments. It is a
// pure function of what the store holds — the catalog of segments and the
// complete snapshots — so `replayer restore`, `replayer list` and retention
// all see the same windows.
package plan

import (
	"fmt"
	"sort"
	"strings"

	"github.com/tidelog/tidelog/catalog"
	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/store"
)

// Base is a complete snapshot as planning needs it. The snapshot holds the
// data as of some moment in [Start, End]; replaying the entries with
// ts >= Start over it makes it exact at End and at any later position the
// segments reach.
type Base struct {
	ID         string
	Start, End oplog.Timestamp
}

// Window is a range of positions that can be restored, [From, To], all from
// the same base: a snapshot (Base != nil) or the start of capture (nil: the
// stream's first segments begin a chain, so replaying them onto an empty
// target rebuilds everything written since).
type Window struct {
	From, To oplog.Timestamp
	Base     *Base
	Segments catalog.Window // the chain the window replays from
}

func (w Window) String() string {
	base := "start of capture"
	if w.Base != nil {
		base = "snapshot " + w.Base.ID
	}
	return fmt.Sprintf("%s..%s (%s)", w.From, w.To, base)
}

// Plan is one restore: load Base (none: an empty target), then replay the
// entries of Segments with From <= ts <= To.
type Plan struct {
	Base     *Base
	From, To oplog.Timestamp // entries replayed: From <= ts <= To (From zero: all)
	Segments []catalog.Segment
	Entries  uint64 // upper bound: entries of the segments
	Bytes    uint64 // raw bytes of the segments
}

// Windows lists every restorable window of s given its complete snapshots,
// ordered by From then To. A snapshot yields [End, end of the chain that
// holds its Start]; it yields nothing while no chain reaches back to its
// Start or forward to its End (tailerd has not cut those segments yet, or a
// gap or pruning took them).
func Windows(s *catalog.Stream, bases []Base) []Window {
	var out []Window
	if len(s.Windows) > 0 {
		first := s.Windows[0]
		// After pruning the first segment left links to a deleted one: the
		// start of capture is gone, and only snapshots are bases.
		if s.Segments[first.First].Header.Prev.IsZero() {
			out = append(out, Window{From: first.From, To: first.To, Segments: first})
		}
	}
	for i := range bases {
		b := &bases[i]
		for _, w := range s.Windows {
			if !w.From.After(b.Start) && !w.To.Before(b.End) {
				out = append(out, Window{From: b.End, To: w.To, Base: b, Segments: w})
				break
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if c := out[i].From.Compare(out[j].From); c != 0 {
			return c < 0
		}
		return out[i].To.Before(out[j].To)
	})
	return out
}

// WindowError says a position is not restorable, and which are.
type WindowError struct {
	Stream  string
	To      oplog.Timestamp
	Windows []Window
	// AfterGap: the stream's history is broken by a gap, and positions after
	// it need a base snapshot taken after it.
	AfterGap bool
	// InGap is the recorded gap To falls inside (after its After, before its
	// Next): the entries there were lost, so no base can make To restorable.
	InGap *store.Gap
}

func (e *WindowError) Error() string {
	if len(e.Windows) == 0 {
		return fmt.Sprintf("stream %s: nothing is restorable yet (no chain of segments from the start of capture or from a snapshot)", e.Stream)
	}
	ws := make([]string, len(e.Windows))
	for i, w := range e.Windows {
		ws[i] = w.String()
	}
	if g := e.InGap; g != nil {
		return fmt.Sprintf("stream %s: %s is inside a gap: the oplog entries after %s and before %s were lost (%s), so no restore can reach that position; pick one in a restorable window: %s",
			e.Stream, e.To, g.After, g.Next, g.Reason, strings.Join(ws, ", "))
	}
	msg := fmt.Sprintf("stream %s: %s is outside every restorable window; restorable: %s", e.Stream, e.To, strings.Join(ws, ", "))
	if e.AfterGap {
		msg += "; history after a gap is restorable only from a base snapshot taken after it (tailerd takes one with --snapshot-every, or now on SIGUSR1)"
	}
	return msg
}

// Restore plans a restore of s to position to (oplog.Max: the latest
// restorable). It prefers the window with the latest base that covers to:
// the least to replay.
func Restore(s *catalog.Stream, bases []Base, to oplog.Timestamp) (Plan, error) {
	windows := Windows(s, bases)
	if len(windows) == 0 {
		return Plan{}, windowError(s, to, windows)
	}
	if to == oplog.Max {
		latest := windows[0].To
		for _, w := range windows {
			if w.To.After(latest) {
				latest = w.To
			}
		}
		to = latest
	}
	var best *Window
	for i := range windows {
		w := &windows[i]
		if to.Before(w.From) || to.After(w.To) {
			continue
		}
		if best == nil || w.From.After(best.From) {
			best = w
		}
	}
	if best == nil {
		return Plan{}, windowError(s, to, windows)
	}
	p := Plan{Base: best.Base, To: to}
	if best.Base != nil {
		p.From = best.Base.Start
	}
	for _, seg := range s.Segments[best.Segments.First : best.Segments.Last+1] {
		if seg.Header.OpEnd.Before(p.From) {
			continue
		}
		if seg.Header.OpStart.After(to) {
			break
		}
		p.Segments = append(p.Segments, seg)
		p.Entries += seg.Header.Count
		p.Bytes += seg.Header.RawSize
	}
	return p, nil
}

func windowError(s *catalog.Stream, to oplog.Timestamp, windows []Window) *WindowError {
	e := &WindowError{Stream: s.Name, To: to, Windows: windows, AfterGap: len(s.Breaks) > 0}
	for _, b := range s.Breaks {
		// A late-entry gap loses no position of its own (Next follows After).
		if g := b.Gap; g != nil && g.After.Before(to) && to.Before(g.Next) {
			e.InGap = g
			break
		}
	}
	return e
}
