package tailer

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/oplog"
)

// batch carries raw entries from the reader to the cutter. Entries are packed
// into one buffer so that reading costs an allocation per batch, not per entry.
type batch struct {
	data []byte
	ends []int
}

func (b *batch) len() int { return len(b.ends) }

func (b *batch) entry(i int) bson.Raw {
	start := 0
	if i > 0 {
		start = b.ends[i-1]
	}
	return b.data[start:b.ends[i]]
}

const batchBytes = 1 << 20

// reader pulls entries from the source into batches. It owns the position:
// every (re)open of the cursor starts at the last entry it passed on and
// first proves that entry is still there, so neither a drained FerretDB
// cursor nor a rolled-over oplog can make it skip anything.
type reader struct {
	src    *source
	stream string
	log    zerolog.Logger
	errs   *atomic.Uint64 // failed reads, for Stats

	last      oplog.Timestamp // last entry passed on (or the start position)
	inclusive bool            // pass on the entry at last too (first open of a fresh stream)

	// Poll mode only: see settle.go. settle 0 turns both defences off.
	settle, recheck time.Duration
	now             func() time.Time
	recent          []passed  // passed on within recheck, in ts order, contiguous up to last
	recentCap       int       // most entries recent may hold (defaultRecentCap)
	lastRecheck     time.Time // when the last recheck began
	checked         time.Time // when the last recheck that read up to last began
	lastClockWarn   time.Time
	holding         bool           // a full range holds capture back (held)
	holds           *atomic.Uint64 // holds begun, for Stats
	lastHoldLog     time.Time
}

// run reads until ctx ends or an unrecoverable error (gap, order) occurs.
// Read errors are retried with backoff: a daemon outlives a source restart.
func (r *reader) run(ctx context.Context, out chan<- *batch) error {
	backoff := minBackoff
	for {
		progressed, wait, err := r.once(ctx, out)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		switch err.(type) {
		case nil:
		case *GapError, *OrderError:
			return err
		default:
			if r.errs != nil {
				r.errs.Add(1)
			}
			r.log.Error().Err(err).Str("stream", r.stream).Stringer("position", r.last).
				Dur("retry_in", backoff).Msg("oplog read failed; retrying from the last position (check the source is up and reachable)")
			progressed, wait = false, 0
		}
		if wait > 0 {
			// Entries wait to settle: come back when the first one has, or
			// after settle at most (a source clock ahead of ours).
			if !sleep(ctx, min(max(wait, minSettleWait), r.settle)) {
				return ctx.Err()
			}
			backoff = minBackoff
			continue
		}
		if progressed {
			backoff = minBackoff
			continue
		}
		if !sleep(ctx, backoff) {
			return ctx.Err()
		}
		if err != nil {
			backoff = min(backoff*2, maxRetryGap)
		} else {
			backoff = min(backoff*2, maxBackoff)
		}
	}
}

// once opens one cursor at r.last and reads it to its end. progressed says
// whether anything new arrived, so an idle source is polled with backoff;
// wait, when positive, is how long until the first entry held back to
// settle may be passed on.
func (r *reader) once(ctx context.Context, out chan<- *batch) (progressed bool, wait time.Duration, err error) {
	from, rechecking := r.last, false
	var now time.Time
	if r.settle > 0 {
		now = r.now()
		r.trim()
		if len(r.recent) > 0 && now.Sub(r.lastRecheck) >= recheckEvery {
			from, rechecking, r.lastRecheck = r.recent[0].ts, true, now
		} else if r.full() {
			return false, r.held(now), nil
		}
	}
	extra := 0
	if rechecking {
		extra = len(r.recent)
	}
	cur, err := r.src.open(ctx, from, extra)
	if err != nil {
		return false, 0, err
	}
	defer cur.Close(context.WithoutCancel(ctx))

	needProof := !r.last.IsZero()
	b := &batch{data: make([]byte, 0, batchBytes)}
	send := func() bool {
		if b.len() == 0 {
			return true
		}
		select {
		case out <- b:
			b = &batch{data: make([]byte, 0, batchBytes)}
			return true
		case <-ctx.Done():
			return false
		}
	}
	for {
		if !cur.TryNext(ctx) {
			if err := cur.Err(); err != nil {
				send()
				return progressed, 0, err
			}
			if !send() {
				return progressed, 0, ctx.Err()
			}
			if cur.ID() == 0 {
				if needProof {
					// Nothing at or after our position: the entry we hold is gone.
					return false, 0, r.gapFromOldest(ctx)
				}
				return progressed, 0, nil
			}
			continue // tailable cursor alive: the server awaited data for awaitTime
		}
		ts, err := oplog.EntryTS(cur.Current)
		if err != nil {
			// r.last already covers the batch: pass it on before returning,
			// or a retry reopening at r.last would skip it.
			send()
			return progressed, 0, err
		}
		if rechecking && ts.Before(r.last) {
			if !ts.Before(r.recent[0].ts) && !r.wasPassed(ts) {
				send()
				late := ts
				return progressed, 0, &GapError{Stream: r.stream, After: r.last, Next: r.last.Next(), Late: &late}
			}
			continue
		}
		if needProof {
			needProof = false
			if ts != r.last {
				send()
				return progressed, 0, &GapError{Stream: r.stream, After: r.last, Next: ts}
			}
			if rechecking {
				r.checked = now
			}
			if r.settle > 0 && len(r.recent) == 0 && !r.inclusive {
				// Start recheck's range at the position, so that an entry
				// appearing just after it is caught too.
				r.recent = append(r.recent, passed{ts: ts, at: now})
			}
			if !r.inclusive {
				continue
			}
		} else if !ts.After(r.last) {
			send()
			return progressed, 0, &OrderError{Stream: r.stream, Prev: r.last, Got: ts}
		}
		if r.settle > 0 {
			wall := entryWall(cur.Current, ts)
			if w := wall.Add(r.settle).Sub(now); w > 0 {
				if !send() {
					return progressed, 0, ctx.Err()
				}
				r.warnClockAhead(w, now)
				return progressed, w, nil
			}
			if r.full() {
				if !send() {
					return progressed, 0, ctx.Err()
				}
				return progressed, r.held(now), nil
			}
			r.recent = append(r.recent, passed{ts: ts, at: now})
			r.holding = false
		}
		r.inclusive = false
		b.data = append(b.data, cur.Current...)
		b.ends = append(b.ends, len(b.data))
		r.last = ts
		progressed = true
		if len(b.data) >= batchBytes && !send() {
			return progressed, 0, ctx.Err()
		}
	}
}

func (r *reader) gapFromOldest(ctx context.Context) error {
	oldest, ok, err := r.src.oldest(ctx)
	if err != nil {
		return err
	}
	switch {
	case ok && !oldest.After(r.last):
		// The oplog still reaches back, yet $gte found nothing: not a gap we can
		// prove. A plain error is logged and retried.
		return fmt.Errorf("stream %s: oplog holds entries from %s but returned none at or after %s", r.stream, oldest, r.last)
	case !ok:
		// An empty oplog has lost the position, but where history resumes is
		// not known yet: a gap needs its next entry (a record without one
		// would read as damaged). Retried, the first entry to come names it.
		return fmt.Errorf("stream %s: the source's oplog is empty, though it held %s: the history after it is lost; the gap is recorded once the oplog holds an entry", r.stream, r.last)
	}
	return &GapError{Stream: r.stream, After: r.last, Next: oldest}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
