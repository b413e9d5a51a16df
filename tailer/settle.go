package tailer

import (
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/oplog"
)

// Poll mode reads a server that shows oplog holes to readers. FerretDB
// gives an entry its ts (and wall) after the data write, then inserts it
// into local.oplog.rs in a write of its own: with two writers, an entry
// can become visible after one with a later ts, behind a reader that has
// already passed it. MongoDB hides such holes; FerretDB does not. Two
// defences, both in the reader:
//
//   - settle: an entry is passed on only once its wall time is settle old
//     on this machine's clock, and reading stops at the first entry that
//     is not (entries are read in ts order, so what is passed on is always
//     a prefix of the oplog). A hole closes within milliseconds of its
//     entry's stamp; settle waits for it.
//   - recheck: entries passed within the last recheck are read again every
//     recheckEvery. One that was not passed on, between the oldest of them
//     and the position, became visible too late: capture stops with a
//     GapError whose Late names it, recorded in the store, so that no
//     restore silently misses it.
//
// Both assume the source's clock is close to this machine's (they share
// one in tests and the demo); a source clock behind ours shortens settle,
// and recheck is what then catches a late entry.
const (
	defaultPollSettle = 500 * time.Millisecond
	defaultRecheck    = 3 * time.Second
	recheckEvery      = time.Second
	// minSettleWait bounds how often a busy source is polled while its
	// newest entries settle: each poll of FerretDB scans its oplog.
	minSettleWait = 100 * time.Millisecond
	// maxRecent bounds the memory recheck keeps; past it the oldest are
	// dropped and rechecked no more.
	maxRecent = 20000
)

// passed is an entry the reader passed on, kept for recheck.
type passed struct {
	ts   oplog.Timestamp
	wall time.Time
}

// entryWall is when the source stamped entry: its wall field, or, when it
// has none, the end of its ts second (later than any true stamp, so the
// entry settles no earlier than it should).
func entryWall(entry bson.Raw, ts oplog.Timestamp) time.Time {
	if v, err := entry.LookupErr("wall"); err == nil {
		if dt, ok := v.DateTimeOK(); ok {
			return time.UnixMilli(dt)
		}
	}
	return ts.Time().Add(time.Second)
}

// trim forgets passed entries older than the recheck window. The newest
// of those stays as the range's lower bound: an entry late to appear
// between it and the next one is as recent as that next one.
func (r *reader) trim(now time.Time) {
	cut := 0
	for len(r.recent)-cut > 1 && (now.Sub(r.recent[cut+1].wall) > r.recheck || len(r.recent)-cut > maxRecent) {
		cut++
	}
	if cut > 0 {
		r.recent = append(r.recent[:0], r.recent[cut:]...)
	}
}

// wasPassed says whether ts is among the recent entries passed on.
func (r *reader) wasPassed(ts oplog.Timestamp) bool {
	lo, hi := 0, len(r.recent)
	for lo < hi {
		m := (lo + hi) / 2
		if r.recent[m].ts.Before(ts) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo < len(r.recent) && r.recent[lo].ts == ts
}
