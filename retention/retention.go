// Package retention decides which snapshots a backup cycle keeps and which
// segments become unneeded. Like plan, it is a pure function of what the
// store holds, so it can be tested exhaustively and run by tailerd after
// every snapshot.
package retention

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/tidelog/tidelog/catalog"
	"github.com/tidelog/tidelog/plan"
)

// Policy says which complete snapshots to keep. A snapshot is kept when any
// rule wants it: it is one of the newest Keep, or it finished within
// KeepFor. A zero rule is not applied; with both zero everything is kept.
// The newest snapshot is always kept, whatever the rules say.
type Policy struct {
	Keep    int
	KeepFor time.Duration
}

func (p Policy) String() string {
	return fmt.Sprintf("keep the newest %d and those younger than %s", p.Keep, p.KeepFor)
}

// Snapshot is a complete snapshot as retention needs it.
type Snapshot struct {
	plan.Base
	Finished time.Time
}

// Decide splits snaps into those to keep and those to delete, each oldest
// first. The policy counts only snapshots a restore can already use or
// that are older than the newest usable one: a snapshot whose window s does
// not hold yet (tailerd has not cut the segments through its End) is kept
// and not counted, so a fresh snapshot never pushes out the only usable
// one — if a gap then kept its window from ever forming, nothing would be
// restorable.
func Decide(s *catalog.Stream, snaps []Snapshot, p Policy, now time.Time) (keep, drop []Snapshot) {
	sorted := append([]Snapshot(nil), snaps...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].End.Before(sorted[j].End) })
	counted := len(sorted) // sorted[counted:] are pending: newer than every usable one
	for counted > 0 && !Usable(s, sorted[counted-1].Base) {
		counted--
	}
	for i, snap := range sorted[:counted] {
		newest := counted - i // 1 for the newest usable
		kept := p.Keep == 0 && p.KeepFor == 0 || newest == 1 ||
			p.Keep > 0 && newest <= p.Keep ||
			p.KeepFor > 0 && now.Sub(snap.Finished) <= p.KeepFor
		if kept {
			keep = append(keep, snap)
		} else {
			drop = append(drop, snap)
		}
	}
	return append(keep, sorted[counted:]...), drop
}

// Usable reports whether a restore can use b: s holds its window.
func Usable(s *catalog.Stream, b plan.Base) bool {
	return slices.ContainsFunc(plan.Windows(s, []plan.Base{b}), func(w plan.Window) bool { return w.Base != nil })
}

// Prunable lists the segments no kept snapshot's window needs: those that
// end before the Start of the oldest kept snapshot that is already
// restorable. Until a snapshot's window exists (tailerd has not yet cut the
// segments through its End) it protects nothing, so nothing is pruned on
// its account: the windows restorable before pruning, from kept snapshots,
// are all still restorable after it. The start-of-capture window, if any,
// is given up once a snapshot makes it unnecessary.
func Prunable(s *catalog.Stream, keep []Snapshot) []string {
	bases := make([]plan.Base, len(keep))
	for i, k := range keep {
		bases[i] = k.Base
	}
	var oldest *plan.Base
	for _, w := range plan.Windows(s, bases) {
		if w.Base != nil && (oldest == nil || w.Base.Start.Before(oldest.Start)) {
			oldest = w.Base
		}
	}
	if oldest == nil {
		return nil
	}
	var out []string
	for _, seg := range s.Segments {
		if seg.Header.OpEnd.Before(oldest.Start) {
			out = append(out, seg.Name)
		}
	}
	return out
}
