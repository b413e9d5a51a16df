package chaos

import (
	"fmt"

	"github.com/tidelog/tidelog/oplog"
)

// tally is the entry count: the writer's log of acknowledged writes against
// the entries the store's segments hold.
type tally struct {
	expected, found, lost, inGaps, unexpected int
	ts                                        []oplog.Timestamp // per write, its stored entry's ts (zero: not stored)
	lostWrites                                []write
	unexplained                               []entry
}

// countEntries matches the log to the stored entries. One writer made every
// write, one at a time, so the source's oplog holds them in the log's order;
// tailerd must store that sequence with only the rollovers' windows cut
// out. The gaps split the stored entries into chains, and a chain holds
// consecutive writes. Inserts and updates carry their write number (v), so
// their entries name their write exactly; a delete's entry (only an _id) is
// the next delete of that _id after the previous entry of its chain — or,
// before a chain's first numbered entry, the nearest one before it (a chain
// after a gap begins wherever the oplog had rolled to).
//
// A write without an entry is lost to a gap when it falls between the last
// write of the chain before the gap and the first of the chain after it; any
// other is lost. A stored entry that no write explains (a duplicate, an
// entry out of order, one inside a gap) is counted as unexplained.
func countEntries(writes []write, entries []entry, gaps []gap) tally {
	t := tally{ts: make([]oplog.Timestamp, len(writes))}
	chains := make([][]entry, len(gaps)+1)
	for _, e := range entries {
		if inAnyGap(e.TS, gaps) {
			t.unexplained = append(t.unexplained, e)
			continue
		}
		j := 0
		for _, g := range gaps {
			if !e.TS.Before(g.Next) {
				j++
			}
		}
		chains[j] = append(chains[j], e)
	}
	type bounds struct{ first, last int }
	spans := make([]bounds, len(chains))
	cursor := 0 // writes before it are accounted for
	for j, ch := range chains {
		spans[j] = bounds{-1, -1}
		note := func(k int, e entry) {
			t.ts[k] = e.TS
			if spans[j].first < 0 || k < spans[j].first {
				spans[j].first = k
			}
			spans[j].last = max(spans[j].last, k)
		}
		first := -1 // the chain's first numbered entry
		for p, e := range ch {
			if k, ok := numbered(e, writes); ok && k >= cursor {
				first = p
				break
			}
		}
		rest := ch
		if first >= 0 {
			k, _ := numbered(ch[first], writes)
			back := k - 1
			for p := first - 1; p >= 0; p-- {
				for back >= cursor && !matches(ch[p], writes[back]) {
					back--
				}
				if back < cursor {
					t.unexplained = append(t.unexplained, ch[p])
					continue
				}
				note(back, ch[p])
				back--
			}
			cursor = k
			rest = ch[first:]
		}
		for p, e := range rest {
			if k, ok := numbered(e, writes); ok {
				if k < cursor {
					t.unexplained = append(t.unexplained, e)
					continue
				}
				note(k, e)
				cursor = k + 1
				continue
			}
			if e.Seq != 0 {
				t.unexplained = append(t.unexplained, e)
				continue
			}
			limit := len(writes) // a delete lies before the chain's next numbered entry
			for _, n := range rest[p+1:] {
				if k, ok := numbered(n, writes); ok && k >= cursor {
					limit = k
					break
				}
			}
			k := cursor
			for k < limit && !matches(e, writes[k]) {
				k++
			}
			if k == limit {
				t.unexplained = append(t.unexplained, e)
				continue
			}
			note(k, e)
			cursor = k + 1
		}
	}
	for k, w := range writes {
		if !t.ts[k].IsZero() {
			t.found++
			continue
		}
		inGap := false
		for j := 1; j < len(spans); j++ {
			if spans[j-1].last < k && (spans[j].first < 0 || k < spans[j].first) {
				inGap = true
			}
		}
		if inGap {
			t.inGaps++
		} else {
			t.lostWrites = append(t.lostWrites, w)
		}
	}
	t.expected = len(writes) - t.inGaps
	t.lost = len(t.lostWrites)
	t.unexpected = len(t.unexplained)
	return t
}

// numbered gives the write an insert's or update's entry names by its
// write number (the log holds write n at n-1).
func numbered(e entry, writes []write) (int, bool) {
	k := int(e.Seq - 1)
	if e.Seq <= 0 || k >= len(writes) || !matches(e, writes[k]) {
		return 0, false
	}
	return k, true
}

func matches(e entry, w write) bool {
	return e.Op == w.Op && e.NS == w.NS && e.ID == w.ID && (w.Op == opDelete || e.Seq == w.Seq)
}

// checkPoints checks each recorded point against the stored entries: the
// point's ts is the entry of the last write before it, when that write is
// stored; when not, the point lies inside a gap.
func checkPoints(points []point, t tally, gaps []gap) []string {
	var bad []string
	for _, p := range points {
		if p.Writes == 0 {
			continue
		}
		got := t.ts[p.Writes-1]
		switch {
		case got.IsZero() && !inAnyGap(p.TS, gaps):
			bad = append(bad, fmt.Sprintf("point %s (%s): its last write is not stored, yet it lies in no gap", p.TS, p.Why))
		case !got.IsZero() && got != p.TS:
			bad = append(bad, fmt.Sprintf("point %s (%s): its last write is stored at %s", p.TS, p.Why, got))
		}
	}
	return bad
}

func inAnyGap(ts oplog.Timestamp, gaps []gap) bool {
	for _, g := range gaps {
		if g.contains(ts) {
			return true
		}
	}
	return false
}
