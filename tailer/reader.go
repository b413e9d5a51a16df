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
}

// run reads until ctx ends or an unrecoverable error (gap, order) occurs.
// Read errors are retried with backoff: a daemon outlives a source restart.
func (r *reader) run(ctx context.Context, out chan<- *batch) error {
	backoff := minBackoff
	for {
		progressed, err := r.once(ctx, out)
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
			progressed = false
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
// whether anything new arrived, so an idle source is polled with backoff.
func (r *reader) once(ctx context.Context, out chan<- *batch) (progressed bool, err error) {
	cur, err := r.src.open(ctx, r.last)
	if err != nil {
		return false, err
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
				return progressed, err
			}
			if !send() {
				return progressed, ctx.Err()
			}
			if cur.ID() == 0 {
				if needProof {
					// Nothing at or after our position: the entry we hold is gone.
					return false, r.gapFromOldest(ctx)
				}
				return progressed, nil
			}
			continue // tailable cursor alive: the server awaited data for awaitTime
		}
		ts, err := oplog.EntryTS(cur.Current)
		if err != nil {
			// r.last already covers the batch: pass it on before returning,
			// or a retry reopening at r.last would skip it.
			send()
			return progressed, err
		}
		if needProof {
			needProof = false
			if ts != r.last {
				return progressed, &GapError{Stream: r.stream, After: r.last, Next: ts}
			}
			if !r.inclusive {
				continue
			}
		} else if !ts.After(r.last) {
			send()
			return progressed, &OrderError{Stream: r.stream, Prev: r.last, Got: ts}
		}
		r.inclusive = false
		b.data = append(b.data, cur.Current...)
		b.ends = append(b.ends, len(b.data))
		r.last = ts
		progressed = true
		if len(b.data) >= batchBytes && !send() {
			return progressed, ctx.Err()
		}
	}
}

func (r *reader) gapFromOldest(ctx context.Context) error {
	oldest, ok, err := r.src.oldest(ctx)
	if err != nil {
		return err
	}
	if ok && !oldest.After(r.last) {
		// The oplog still reaches back, yet $gte found nothing: not a gap we can
		// prove. A plain error is logged and retried.
		return fmt.Errorf("stream %s: oplog holds entries from %s but returned none at or after %s", r.stream, oldest, r.last)
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
