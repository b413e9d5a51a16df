package chaos

import (
	"slices"
	"testing"

	"github.com/tidelog/tidelog/oplog"
)

// The entry count is the run's verdict on loss, so it is tested on its own:
// against logs and stored entries whose answer is known.
func TestCountEntries(t *testing.T) {
	// Writes 1..8 on one key: insert, update, delete, insert, delete, insert, update, delete.
	ops := []op{opInsert, opUpdate, opDelete, opInsert, opDelete, opInsert, opUpdate, opDelete}
	var writes []write
	var all []entry
	for i, o := range ops {
		w := write{Seq: int64(i + 1), Op: o, NS: "app.events", ID: 7}
		writes = append(writes, w)
		e := entry{TS: oplog.Timestamp{T: 100, I: uint32(i + 1)}, Op: o, NS: w.NS, ID: w.ID}
		if o != opDelete {
			e.Seq = w.Seq
		}
		all = append(all, e)
	}
	without := func(drop ...int) []entry {
		var out []entry
		for i, e := range all {
			if !slices.Contains(drop, i) {
				out = append(out, e)
			}
		}
		return out
	}
	ts := func(i uint32) oplog.Timestamp { return oplog.Timestamp{T: 100, I: i} }
	for _, c := range []struct {
		name                             string
		entries                          []entry
		gaps                             []gap
		found, lost, inGaps, unexplained int
	}{
		{name: "everything stored", entries: all, found: 8},
		{name: "an update dropped", entries: without(1), found: 7, lost: 1},
		{name: "a delete dropped", entries: without(4), found: 7, lost: 1},
		{name: "the last write not stored", entries: without(7), found: 7, lost: 1},
		{name: "an entry stored twice", entries: append(without(), all[3]), found: 8, unexplained: 1},
		// Writes 3 (a delete) and 4 rolled away: the chain after the gap
		// begins with write 5, a delete of the same _id, which must not
		// take the lost delete's place.
		{name: "a gap between two deletes of one _id", entries: without(2, 3), gaps: []gap{{After: ts(2), Next: ts(5)}}, found: 6, inGaps: 2},
		{name: "a loss before a gap is not the gap's", entries: without(0, 2, 3), gaps: []gap{{After: ts(2), Next: ts(5)}}, found: 5, lost: 1, inGaps: 2},
		{name: "an entry inside a gap", entries: all, gaps: []gap{{After: ts(3), Next: ts(5)}}, found: 7, inGaps: 1, unexplained: 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := countEntries(writes, c.entries, c.gaps)
			if got.found != c.found || got.lost != c.lost || got.inGaps != c.inGaps || got.unexpected != c.unexplained ||
				got.expected != len(writes)-c.inGaps {
				t.Errorf("found %d lost %d in gaps %d unexplained %d expected %d; want %d %d %d %d %d",
					got.found, got.lost, got.inGaps, got.unexpected, got.expected, c.found, c.lost, c.inGaps, c.unexplained, len(writes)-c.inGaps)
			}
		})
	}
}
