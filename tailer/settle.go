package tailer

import (
	"slices"
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
//   - recheck: entries passed on within the last recheck (by this
//     machine's clock, from when they were passed, up to the start of a
//     recheck that completed) are read again every recheckEvery. One that
//     was not passed on, between the oldest of them and the position,
//     became visible too late: capture stops with a GapError whose Late
//     names it, recorded in the store, so that no restore silently misses
//     it. The range holds at most recentCap entries; when it is full the
//     reader passes nothing more on until the oldest have been looked
//     behind for the whole window, so no entry ever leaves the range
//     unchecked (held, below). After a restart the newest stored entries
//     seed the range (seedRecheck), so a hole behind the position at the
//     stop is still looked for.
//
// Settle assumes the source's clock is close to this machine's (they share
// one in tests and the demo): a source clock behind ours shortens it, and
// recheck, which needs no source clock, is what then catches a late entry.
// A source clock ahead of ours delays capture; the reader says so.
const (
	defaultPollSettle = 500 * time.Millisecond
	defaultRecheck    = 3 * time.Second
	recheckEvery      = time.Second
	// minSettleWait bounds how often a busy source is polled while its
	// newest entries settle: each poll of FerretDB scans its oplog.
	minSettleWait = 100 * time.Millisecond
	// defaultRecentCap bounds the entries recheck looks behind: the memory
	// it keeps and what each recheck reads again. A full range holds
	// capture back (see held): poll mode then passes on at most about
	// defaultRecentCap entries per recheck+recheckEvery (5,000/s), more
	// than FerretDB writes (about 2,000/s), so only a catch-up waits.
	defaultRecentCap = 20000
	// holdLogEvery is how often a held capture is logged.
	holdLogEvery = time.Minute
)

// passed is an entry the reader passed on, kept for recheck.
type passed struct {
	ts oplog.Timestamp
	at time.Time // when it was passed on, on the reader's clock
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

// trim forgets entries passed on longer than the recheck window before
// the last complete recheck began (not before now: a reader that could
// not recheck for a while, blocked on a slow store or source, must still
// look behind them once). The newest of those stays as the range's lower
// bound: an entry late to appear between it and the next one is as recent
// as that next one. Nothing else leaves the range: a full one holds
// capture back instead (held).
func (r *reader) trim() {
	cut := 0
	for len(r.recent)-cut > 1 && r.checked.Sub(r.recent[cut+1].at) > r.recheck {
		cut++
	}
	if cut > 0 {
		r.recent = append(r.recent[:0], r.recent[cut:]...)
	}
}

// full says whether recheck's range holds as many entries as it may: the
// next entry waits until trim frees room.
func (r *reader) full() bool { return len(r.recent) >= r.capacity() }

// capacity is recentCap, at least 2: trim keeps the range's lower bound,
// so a range of one could never take another entry.
func (r *reader) capacity() int {
	if r.recentCap <= 0 {
		return defaultRecentCap
	}
	return max(r.recentCap, 2)
}

// held is called when a full range holds capture back, and returns how
// long until the next recheck, which may free room. Dropping the oldest
// entries instead would stop looking behind them before their window
// ended, and an entry appearing late there would be skipped without a
// word: for a backup, a slower catch-up is the lesser harm. Each hold is
// counted (Stats.RecheckHolds) and logged at most every holdLogEvery.
func (r *reader) held(now time.Time) time.Duration {
	if !r.holding {
		r.holding = true
		if r.holds != nil {
			r.holds.Add(1)
		}
	}
	if r.lastHoldLog.IsZero() || now.Sub(r.lastHoldLog) >= holdLogEvery {
		r.lastHoldLog = now
		r.log.Info().Str("stream", r.stream).Int("entries", len(r.recent)).Stringer("from", r.recent[0].ts).
			Stringer("to", r.last).Dur("window", r.recheck).
			Msg("poll mode holds capture back until the entries it passed on last have been looked behind for the whole recheck window " +
				"(a catch-up runs at about 5,000 entries/s); nothing is skipped")
	}
	return max(r.lastRecheck.Add(recheckEvery).Sub(now), minSettleWait)
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

// warnClockAhead logs, at most once a minute, that an entry stamped in the
// future on this machine's clock holds capture back: the source's clock is
// ahead of ours by about wait-settle.
func (r *reader) warnClockAhead(wait time.Duration, now time.Time) {
	ahead := wait - r.settle
	if ahead < time.Second || now.Sub(r.lastClockWarn) < time.Minute {
		return
	}
	r.lastClockWarn = now
	r.log.Warn().Str("stream", r.stream).Dur("ahead", ahead.Round(time.Millisecond)).
		Msg("the source stamps oplog entries ahead of this machine's clock; poll mode holds each entry back until it settles by ours, so capture lags by as much: synchronise the clocks (NTP)")
}

// known adds ts to the passed entries in its place, so that recheck does
// not report it: a late entry already recorded as a gap.
func (r *reader) known(ts oplog.Timestamp) {
	if len(r.recent) == 0 || r.wasPassed(ts) {
		return
	}
	i, _ := slices.BinarySearchFunc(r.recent, ts, func(p passed, ts oplog.Timestamp) int { return p.ts.Compare(ts) })
	r.recent = slices.Insert(r.recent, i, passed{ts: ts, at: r.now()})
}
