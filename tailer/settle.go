package tailer

import (
	"context"
	"errors"
	"io"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/segment"
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
//     recheck that completed) are read again every recheckEvery. One that was not passed on, between the oldest of them
//     and the position, became visible too late: capture stops with a
//     GapError whose Late names it, recorded in the store, so that no
//     restore silently misses it. After a restart the head segment's
//     newest entries seed the range, so a hole behind the position at the
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
	// maxRecent bounds the memory recheck keeps; past it the oldest are
	// dropped and rechecked no more.
	maxRecent = 20000
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
// as that next one.
func (r *reader) trim() {
	cut := 0
	for len(r.recent)-cut > 1 && (r.checked.Sub(r.recent[cut+1].at) > r.recheck || len(r.recent)-cut > maxRecent) {
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

// seedRecheck starts recheck's range, after a restart, with the entries of
// the head segment: a hole behind the position at the stop is looked for as
// if this process had passed them. Best effort: without them the range
// starts at the position, as on a first start, and the reader says so.
func (t *Tailer) seedRecheck(ctx context.Context, rd *reader, head segment.Info) {
	if rd.settle <= 0 {
		return
	}
	rc, err := t.store.OpenSegment(ctx, t.stream, head.Name)
	if err == nil {
		defer rc.Close()
		var sr *segment.Reader
		if sr, err = segment.NewReaderWith(rc, head.Name, t.cfg.readOptions()); err == nil {
			now := rd.now()
			for {
				e, nerr := sr.Next()
				if nerr != nil {
					if !errors.Is(nerr, io.EOF) {
						err = nerr
					}
					break
				}
				ts, terr := oplog.EntryTS(e)
				if terr != nil {
					err = terr
					break
				}
				rd.recent = append(rd.recent, passed{ts: ts, at: now})
			}
			if len(rd.recent) > maxRecent {
				rd.recent = rd.recent[len(rd.recent)-maxRecent:]
			}
		}
	}
	if err != nil || len(rd.recent) == 0 || rd.recent[len(rd.recent)-1].ts != head.OpEnd {
		rd.recent = nil
		t.log.Warn().Err(err).Str("segment", head.Name).
			Msg("could not read the head segment to look again behind the position after the restart; an entry the source shows late just behind it would not be caught")
	}
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
