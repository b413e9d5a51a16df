package chaos

import (
	"fmt"
	"time"
)

// figures are what a run did and found; the closing line is what
// docs/reliability.md quotes.
type figures struct {
	kills          int // SIGKILLs at random moments, each followed by a restart
	killsInFaults  int // of them, inside a store outage, a disk-full episode or a rollover
	storeWaits     int // starts inside an outage that waited for the store (without exiting)
	starts         int // tailerd processes started
	sourceRestarts int
	storeOutages   int
	outageTime     time.Duration
	diskFulls      int
	rollovers      int // gaps reported with the exact positions (exit 3)

	restored, matched int // restores to recorded timestamps, and how many equalled the recorded state
	refusedInGap      int // recorded timestamps inside a gap, refused with exit 3
	refusedNoBase     int // recorded timestamps after a gap, before its first snapshot, refused with exit 3

	points                int // states recorded
	writes                int // acknowledged writes
	expected, found, lost int // writes outside the gaps; of them in the segments; missing
	inGaps, unexpected    int // writes lost to the rollovers (expected); stored entries no write explains
	segments              int
	keyRotations          int   // restarts with a new encryption key first in the ring
	segmentsPerKey        []int // segments sealed with each key, oldest key first

	catchUpMax time.Duration // the longest wait for both stores to reach the source after a fault
}

func (f *figures) noteCatchUp(d time.Duration) {
	f.catchUpMax = max(f.catchUpMax, d)
}

// line is the closing figures line.
func (f *figures) line(p profile, seed uint64, took time.Duration) string {
	return fmt.Sprintf("chaos %s (seed %d): kills %d (%d inside other faults), tailerd starts %d (%d waited for the store in an outage), "+
		"source restarts %d, store outages %d (%s down), "+
		"disk-full episodes %d, rollovers %d (gap reported with positions, exit 3), "+
		"timestamps restored %d and matched %d, refused %d inside a gap and %d before its snapshot, states recorded %d, "+
		"writes %d, entries expected %d found %d lost %d (in gaps %d, unexplained %d), segments %d (all encrypted; per key %v, %d key rotations), "+
		"slowest catch-up %s, duration %s",
		p.name, seed, f.kills, f.killsInFaults, f.starts, f.storeWaits, f.sourceRestarts, f.storeOutages, f.outageTime.Round(time.Second),
		f.diskFulls, f.rollovers, f.restored, f.matched, f.refusedInGap, f.refusedNoBase, f.points,
		f.writes, f.expected, f.found, f.lost, f.inGaps, f.unexpected, f.segments, f.segmentsPerKey, f.keyRotations,
		f.catchUpMax.Round(100*time.Millisecond), took.Round(time.Second))
}
