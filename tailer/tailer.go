package tailer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/tidelog/tidelog/checkpoint"
	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/segment"
	"github.com/tidelog/tidelog/store"
)

// Tailer captures one stream. Create it with New and call Run once.
type Tailer struct {
	cfg    Config
	client *mongo.Client
	store  store.Store
	ckpt   *checkpoint.DB
	log    zerolog.Logger

	src    *source
	stream string
	w      *segment.Writer
	opened time.Time // when the open segment got its first entry

	// slowPutEvery is how often a store write that has not returned is
	// logged; shutdownGrace bounds the last attempt of a put interrupted
	// by shutdown.
	slowPutEvery, shutdownGrace time.Duration
	// clock is what poll mode settles entries by; tests replace it.
	clock func() time.Time
	// recentCap is how many entries poll mode's recheck looks behind at
	// most (defaultRecentCap); gapPutFor how long a gap record is retried
	// in the store. Tests shorten them.
	recentCap int
	gapPutFor time.Duration

	captured atomic.Uint64          // ts (T<<32|I) of the last entry handed to the open segment
	durable  atomic.Uint64          // opEnd of the last segment committed to the checkpoint
	named    atomic.Pointer[string] // t.stream, once Run has resolved it
	stats    counters
}

// Progress reports how far capture has got: Captured is the last entry read
// from the source into the open segment, Durable the last one in the store and
// the checkpoint. Safe to call from any goroutine while Run runs.
func (t *Tailer) Progress() (captured, durable oplog.Timestamp) {
	return oplog.FromUint64(t.captured.Load()), oplog.FromUint64(t.durable.Load())
}

// New prepares a tailer; it does no I/O.
func New(client *mongo.Client, st store.Store, ckpt *checkpoint.DB, cfg Config, log zerolog.Logger) *Tailer {
	return &Tailer{cfg: cfg.withDefaults(), client: client, store: st, ckpt: ckpt, log: log,
		slowPutEvery: 30 * time.Second, shutdownGrace: 15 * time.Second, clock: time.Now,
		recentCap: defaultRecentCap, gapPutFor: time.Minute}
}

// Stream is the stream name, known once Run has connected.
func (t *Tailer) Stream() string {
	if p := t.named.Load(); p != nil {
		return *p
	}
	return t.cfg.Stream
}

// SourceError marks failures to reach or understand the source at start, so
// that the daemon can exit with a code of its own.
type SourceError struct{ Err error }

func (e *SourceError) Error() string { return "source: " + e.Err.Error() }
func (e *SourceError) Unwrap() error { return e.Err }

// Run captures until ctx is cancelled, then cuts the open segment, commits it
// and returns nil. It returns a *GapError when history was lost (after
// recording the gap), a *SourceError when the source is unusable at start,
// and other errors for store or checkpoint failures it cannot retry.
func (t *Tailer) Run(ctx context.Context) error {
	src, err := openSource(ctx, t.client, t.cfg.Cursor, t.cfg.BatchSize)
	if err != nil {
		return &SourceError{Err: err}
	}
	t.src = src
	t.stream = t.cfg.Stream
	if t.stream == "" {
		t.stream = src.setName
	}
	t.named.Store(&t.stream)
	t.stats.mu.Lock()
	t.stats.cursor = src.mode
	t.stats.mu.Unlock()
	t.log = t.log.With().Str("stream", t.stream).Logger()

	head, hasHead, err := t.reconcile(ctx)
	if err != nil {
		return err
	}
	var hs storedHead
	if hasHead {
		var herr error
		hs, herr = t.readHead(ctx, head.Name, t.settles())
		if errors.Is(herr, ErrStoreMismatch) {
			// A damaged head header stops the start whatever the keys, as
			// every damaged segment reconcile reads does: capture going on
			// after it would leave a break no one reports until a restore.
			return herr
		}
		// Before startPosition, which may record a gap: a tailer that
		// must not run writes nothing.
		if err := t.checkEncryption(head, hs.header, herr); err != nil {
			return err
		}
		if herr != nil {
			hs.timesErr = herr
		}
	}
	rd, prev, err := t.startPosition(ctx, head, hasHead, hs)
	if err != nil {
		return err
	}
	t.w = segment.NewWriterWith(t.stream, segment.WriterOptions{Keys: t.cfg.Keys})
	t.w.Start(prev)
	if hasHead {
		t.durable.Store(head.OpEnd.Uint64())
		t.captured.Store(head.OpEnd.Uint64())
	}
	t.log.Info().Str("cursor", string(src.mode)).Stringer("from", rd.last).Bool("inclusive", rd.inclusive).
		Msg("tailing the oplog")
	return t.pipeline(ctx, rd)
}

// startPosition decides where reading begins and what the first segment links to.
// hs is the head as read from the store, for recheck's range.
func (t *Tailer) startPosition(ctx context.Context, head segment.Info, hasHead bool, hs storedHead) (*reader, segment.Link, error) {
	rd := &reader{src: t.src, stream: t.stream, log: t.log, errs: &t.stats.readErrors, now: t.clock,
		recentCap: t.recentCap, holds: &t.stats.recheckHolds}
	if t.settles() {
		rd.settle, rd.recheck = t.cfg.PollSettle, t.cfg.Recheck
	}
	if hasHead {
		rd.last = head.OpEnd
		gaps, err := t.ckpt.Gaps(t.stream)
		if err != nil {
			return nil, segment.Link{}, err
		}
		if n := len(gaps); n > 0 && gaps[n-1].After == head.OpEnd {
			// A gap after the head is already on record: proving again would
			// only fail again. Start a new chain if the operator accepted it.
			g := &GapError{Stream: t.stream, After: gaps[n-1].After, Next: gaps[n-1].Next, Late: gaps[n-1].Late}
			// The store's record is what restores see: put it again, in
			// case it was not stored when the gap was found.
			if err := t.putGap(ctx, gaps[n-1]); err != nil {
				return nil, segment.Link{}, err
			}
			if !t.cfg.AcceptGap {
				return nil, segment.Link{}, g
			}
			if g.Late != nil {
				// Nothing after the head is lost: go on right after it, in a
				// new chain, so that restores cannot cross the entry missed.
				t.log.Warn().Stringer("from", rd.last).Stringer("late", *g.Late).
					Msg("--accept-gap: starting a new chain after the recorded late entry; restores cannot cross it")
				t.seedRecheck(ctx, rd, head, hs)
				rd.known(*g.Late) // recorded: not late again
				return rd, segment.Link{}, nil
			}
			return t.newChainAfterGap(ctx, rd)
		}
		t.seedRecheck(ctx, rd, head, hs)
		return rd, head.Link(), nil
	}
	s := t.cfg.Start
	switch {
	case s.Latest:
		ts, ok, err := t.src.newest(ctx)
		if err != nil {
			return nil, segment.Link{}, &SourceError{Err: err}
		}
		if ok {
			rd.last = ts // exclusive: the newest entry itself is history before the start
		}
	case !s.At.IsZero():
		oldest, ok, err := t.src.oldest(ctx)
		if err != nil {
			return nil, segment.Link{}, &SourceError{Err: err}
		}
		if !ok || oldest.After(s.At) {
			return nil, segment.Link{}, fmt.Errorf("start position %s: the oplog no longer reaches back to it (oldest entry %s); start at oldest or a later position", s.At, oldest)
		}
		// The newest entry before the first at or after At: read the
		// other way round, an entry at or after At written between the
		// two reads would be taken for history before the start, and
		// skipped. Read this way, no entry at or after At means the
		// newest is before At.
		newest, _, err := t.src.newest(ctx)
		if err != nil {
			return nil, segment.Link{}, &SourceError{Err: err}
		}
		first, ok, err := t.src.firstAtOrAfter(ctx, s.At)
		if err != nil {
			return nil, segment.Link{}, &SourceError{Err: err}
		}
		if ok {
			rd.last, rd.inclusive = first, true
		} else {
			rd.last = newest
		}
	default: // oldest
		ts, ok, err := t.src.oldest(ctx)
		if err != nil {
			return nil, segment.Link{}, &SourceError{Err: err}
		}
		if ok {
			rd.last, rd.inclusive = ts, true
		}
	}
	return rd, segment.Link{}, nil
}

// settles says whether the reader settles and rechecks entries (settle.go).
func (t *Tailer) settles() bool { return t.src.mode == CursorPoll && t.cfg.PollSettle > 0 }

// newChainAfterGap restarts capture at the oldest entry the source still has.
func (t *Tailer) newChainAfterGap(ctx context.Context, rd *reader) (*reader, segment.Link, error) {
	oldest, ok, err := t.src.oldest(ctx)
	if err != nil {
		return nil, segment.Link{}, &SourceError{Err: err}
	}
	rd.last, rd.inclusive = oldest, ok
	if !ok {
		rd.last = oplog.Timestamp{}
	}
	t.log.Warn().Stringer("from", oldest).Msg("--accept-gap: starting a new chain after the recorded gap; restores cannot cross the gap")
	return rd, segment.Link{}, nil
}

// pipeline runs the reader and cuts segments from what it delivers.
func (t *Tailer) pipeline(ctx context.Context, rd *reader) error {
	readCtx, stopRead := context.WithCancel(ctx)
	defer stopRead()
	batches := make(chan *batch, 4) // bounded: a slow store slows the reader
	readErr := make(chan error, 1)
	go func() { readErr <- rd.run(readCtx, batches) }()
	go t.probe(readCtx)

	tick := time.NewTicker(min(t.cfg.CutAge/4, time.Second))
	defer tick.Stop()
	for {
		select {
		case b := <-batches:
			if err := t.append(ctx, b); err != nil {
				return err
			}
		case <-tick.C:
			if t.w.Count() > 0 && time.Since(t.opened) >= t.cfg.CutAge {
				if err := t.cut(ctx); err != nil {
					return err
				}
			}
		case err := <-readErr:
			// Keep what was read before the error: drain, cut, then report.
			stopRead()
			var gap *GapError
			if derr := t.drain(context.WithoutCancel(ctx), batches); derr != nil {
				if errors.As(err, &gap) {
					if gap.Late != nil {
						return t.lateBehindUndrained(ctx, gap, derr)
					}
					// The oplog rolled past gap.After, so past the durable
					// position before it too: the next start finds it again.
					t.log.Error().Err(gap).Msg("a gap was found while the segments read before it could not be stored; the next start finds it again and records it")
				}
				return derr
			}
			if errors.As(err, &gap) {
				return t.recordGap(context.WithoutCancel(ctx), gap)
			}
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// drain appends batches already read, then cuts the open segment; used at
// shutdown so that what was read is kept, bounded by a timeout.
func (t *Tailer) drain(ctx context.Context, batches <-chan *batch) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		select {
		case b := <-batches:
			if err := t.append(ctx, b); err != nil {
				return err
			}
			continue
		default:
		}
		break
	}
	if t.w.Count() == 0 {
		return nil
	}
	return t.cut(ctx)
}

func (t *Tailer) append(ctx context.Context, b *batch) error {
	for i := 0; i < b.len(); i++ {
		if t.w.Count() == 0 {
			t.opened = time.Now()
		}
		if err := t.w.Append(b.entry(i)); err != nil {
			return fmt.Errorf("stream %s: %w", t.stream, err)
		}
		t.captured.Store(t.w.OpEnd().Uint64())
		t.stats.pending.Add(1)
		if t.w.RawSize() >= t.cfg.CutBytes {
			if err := t.cut(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// cut finishes the open segment, makes it durable in the store, and only then
// commits it to the checkpoint: a crash between the two leaves a complete
// segment in the store that reconcile adopts at the next start.
func (t *Tailer) cut(ctx context.Context) error {
	info, data, err := t.w.Finish()
	if err != nil {
		return fmt.Errorf("stream %s: finish segment: %w", t.stream, err)
	}
	if err := t.put(ctx, info, data); err != nil {
		return err
	}
	if err := t.ckpt.Commit(info); err != nil {
		return fmt.Errorf("stream %s: commit segment %s to the checkpoint: %w", t.stream, info.Name, err)
	}
	t.durable.Store(info.OpEnd.Uint64())
	t.stats.pending.Add(-int64(info.Count))
	t.stats.segments.Add(1)
	t.stats.entries.Add(info.Count)
	t.stats.bytes.Add(info.Size)
	t.stats.lastCommit.Store(time.Now().UnixNano())
	t.log.Info().Str("segment", info.Name).Uint64("entries", info.Count).Uint64("raw_bytes", info.RawSize).
		Uint64("bytes", info.Size).Msg("segment stored")
	t.w.Start(info.Link())
	return nil
}

// put retries the store with backoff until it succeeds or ctx ends: a store
// outage slows capture (the reader blocks on the bounded channel) and never
// drops a segment. A put that blocks instead of failing (Kafka waits for
// the broker to come back) is logged every slowPutEvery, so an outage
// never looks like an idle source. When ctx ends during the put (a
// shutdown in an outage), one more attempt gets shutdownGrace: what was
// read is kept if the store answers in time; if not, the error says so
// and the entries are read again from the source at the next start.
func (t *Tailer) put(ctx context.Context, info segment.Info, data []byte) error {
	defer t.warnWhileWaiting(info.Name)()
	backoff := 100 * time.Millisecond
	graced := false
	for {
		err := t.store.PutSegment(ctx, t.stream, info.Name, data)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			if graced {
				return fmt.Errorf("stream %s: store segment %s in %s at shutdown: %w", t.stream, info.Name, t.store, err)
			}
			graced = true
			t.log.Warn().Str("segment", info.Name).Dur("grace", t.shutdownGrace).
				Msg("stopping while a segment waits for the store; one last attempt")
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), t.shutdownGrace)
			defer cancel()
			continue
		}
		t.stats.storeErrors.Add(1)
		t.log.Error().Err(err).Str("segment", info.Name).Stringer("store", storeName{t.store}).Dur("retry_in", backoff).
			Msg("store write failed; retrying (capture waits, nothing is dropped)")
		if !sleep(ctx, backoff) {
			continue // the shutdown attempt above
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// warnWhileWaiting logs every slowPutEvery until the returned func is
// called.
func (t *Tailer) warnWhileWaiting(segment string) (stop func()) {
	began := time.Now()
	var mu sync.Mutex
	stopped := false
	var timer *time.Timer
	timer = time.AfterFunc(t.slowPutEvery, func() {
		t.log.Warn().Str("segment", segment).Stringer("store", storeName{t.store}).Dur("waiting", time.Since(began).Round(time.Second)).
			Msg("store write still waiting; capture is paused until it completes (nothing is dropped; check the store)")
		mu.Lock()
		defer mu.Unlock()
		if !stopped {
			timer.Reset(t.slowPutEvery)
		}
	})
	return func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		timer.Stop()
	}
}

// recordGap records g in the checkpoint and the store, logs it and
// returns it. A gap that one of them could not take is returned as a
// *GapNotRecordedError, which stops the tailer as loudly as the gap: a
// log line alone would let a restart without the record go on over it.
func (t *Tailer) recordGap(ctx context.Context, g *GapError) error {
	gap := store.Gap{After: g.After, Next: g.Next, Detected: time.Now().UTC(), Reason: "oplog no longer reaches back to the last durable position"}
	if g.Late != nil {
		gap.Reason = fmt.Sprintf("oplog entry %s became visible after the reader had passed it; the segments up to %s lack it", *g.Late, g.After)
		gap.Late = g.Late
	}
	// The checkpoint first: the next start puts its gaps in the store again.
	ckErr := t.ckpt.RecordGap(t.stream, gap)
	stErr := t.putGap(ctx, gap)
	var err error = g
	if ckErr != nil || stErr != nil {
		err = &GapNotRecordedError{Gap: g, Checkpoint: ckErr, Store: stErr}
	}
	t.log.Error().Stringer("after", g.After).Stringer("next", g.Next).Msg(err.Error())
	return err
}

// lateBehindUndrained handles a late entry found when what was read after
// the durable head could not be stored. The next start reads again from
// the head, so a late entry after it is captured then; one at or before it
// is missing from stored segments and is recorded against the head.
func (t *Tailer) lateBehindUndrained(ctx context.Context, gap *GapError, derr error) error {
	_, durable := t.Progress()
	if gap.Late.After(durable) {
		t.log.Warn().Stringer("late", *gap.Late).Stringer("durable", durable).
			Msg("an entry appeared behind the reader, after the last stored segment; it is read at the next start")
		return derr
	}
	g := *gap
	g.After, g.Next = durable, durable.Next()
	return errors.Join(t.recordGap(context.WithoutCancel(ctx), &g), derr)
}

// putGap stores a gap record, retrying for a while: for a late entry it is
// the only thing that keeps restores from crossing the entry missed.
func (t *Tailer) putGap(ctx context.Context, gap store.Gap) error {
	ctx, cancel := context.WithTimeout(ctx, t.gapPutFor)
	defer cancel()
	backoff := 100 * time.Millisecond
	for {
		err := t.store.PutGap(ctx, t.stream, gap)
		if err == nil {
			return nil
		}
		if !sleep(ctx, backoff) {
			return fmt.Errorf("stream %s: store the gap after %s in %s: %w", t.stream, gap.After, t.store, err)
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

type storeName struct{ s store.Store }

func (n storeName) String() string { return n.s.String() }
