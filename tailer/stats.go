package tailer

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidelog/tidelog/oplog"
)

// Stats is what one tailer reports to metrics and to `tailerd status`.
// Counters count since Run began; positions survive restarts through the
// checkpoint.
type Stats struct {
	Stream string     `json:"stream"`
	Cursor CursorMode `json:"cursor"`
	// Captured is the last entry read from the source into the open
	// segment; Durable the last one stored and committed to the checkpoint.
	Captured oplog.Timestamp `json:"captured"`
	Durable  oplog.Timestamp `json:"durable"`
	// LastCommit is when Durable last advanced (zero: not since start).
	LastCommit time.Time `json:"last_commit"`
	// Pending counts entries read but not yet durable.
	Pending int64 `json:"pending_entries"`
	// Segments, Entries and Bytes (compressed) were stored since start.
	Segments uint64 `json:"segments"`
	Entries  uint64 `json:"entries"`
	Bytes    uint64 `json:"bytes"`
	// StoreErrors counts failed store writes (every retry), ReadErrors
	// failed oplog reads.
	StoreErrors uint64 `json:"store_errors"`
	ReadErrors  uint64 `json:"read_errors"`
	// RecheckHolds counts the times poll mode held capture back because
	// the entries it looks behind for late ones filled its range (a
	// catch-up faster than about 5,000 entries/s): capture lags then, and
	// nothing is skipped.
	RecheckHolds uint64 `json:"recheck_holds"`
	// SourceOldest and SourceNewest are the oplog's ends at ProbedAt: the
	// oldest bounds the headroom, the newest the lag.
	SourceOldest oplog.Timestamp `json:"source_oldest"`
	SourceNewest oplog.Timestamp `json:"source_newest"`
	ProbedAt     time.Time       `json:"probed_at"`
}

// LagSeconds is how far the store is behind the source's newest entry,
// by the entries' own clock; 0 before anything is stored (a fresh stream
// has no position to measure from: Pending tells its progress).
func (s Stats) LagSeconds() float64 {
	if s.Durable.IsZero() {
		return 0
	}
	newest := s.SourceNewest
	if s.Captured.After(newest) {
		newest = s.Captured
	}
	if !newest.After(s.Durable) {
		return 0
	}
	return float64(int64(newest.T) - int64(s.Durable.T))
}

// HeadroomSeconds is about how long capture could stop before the oplog
// rolls past the durable position and history is lost: the oplog keeps a
// window of roughly constant length, so its oldest entry reaches Durable
// after Durable-Oldest seconds. ok is false before the first probe and
// while nothing has been read.
func (s Stats) HeadroomSeconds() (seconds float64, ok bool) {
	if s.SourceOldest.IsZero() {
		return 0, false
	}
	pos := s.Durable
	if pos.IsZero() {
		pos = s.Captured
	}
	if pos.IsZero() {
		return 0, false
	}
	return float64(int64(pos.T) - int64(s.SourceOldest.T)), true
}

// counters are the tailer's live figures, written by Run's goroutines and
// read by Stats from any goroutine.
type counters struct {
	segments, entries, bytes atomic.Uint64
	storeErrors, readErrors  atomic.Uint64
	recheckHolds             atomic.Uint64
	pending                  atomic.Int64
	lastCommit               atomic.Int64 // unix nanoseconds

	mu             sync.Mutex
	oldest, newest oplog.Timestamp // guarded by mu
	probedAt       time.Time       // guarded by mu
	cursor         CursorMode      // guarded by mu
}

// Stats reports the tailer's figures; safe to call from any goroutine at
// any time, including before Run has connected (zero positions).
func (t *Tailer) Stats() Stats {
	c := &t.stats
	captured, durable := t.Progress()
	s := Stats{
		Stream: t.Stream(), Captured: captured, Durable: durable,
		Pending: c.pending.Load(), Segments: c.segments.Load(), Entries: c.entries.Load(), Bytes: c.bytes.Load(),
		StoreErrors: c.storeErrors.Load(), ReadErrors: c.readErrors.Load(), RecheckHolds: c.recheckHolds.Load(),
	}
	if ns := c.lastCommit.Load(); ns != 0 {
		s.LastCommit = time.Unix(0, ns).UTC()
	}
	c.mu.Lock()
	s.SourceOldest, s.SourceNewest, s.ProbedAt, s.Cursor = c.oldest, c.newest, c.probedAt, c.cursor
	c.mu.Unlock()
	return s
}

// probe reads the oplog's ends every ProbeEvery until ctx ends, for the
// lag and headroom figures. A failed probe keeps the last figures: the
// reader reports source trouble on its own.
func (t *Tailer) probe(ctx context.Context) {
	tick := time.NewTicker(t.cfg.ProbeEvery)
	defer tick.Stop()
	for {
		oldest, okOld, err := t.src.oldest(ctx)
		if err == nil {
			var newest oplog.Timestamp
			var okNew bool
			newest, okNew, err = t.src.newest(ctx)
			if err == nil && okOld && okNew {
				t.stats.mu.Lock()
				t.stats.oldest, t.stats.newest, t.stats.probedAt = oldest, newest, time.Now().UTC()
				t.stats.mu.Unlock()
			}
		}
		if err != nil && ctx.Err() == nil {
			t.log.Debug().Err(err).Msg("probing the oplog's ends for lag and headroom failed")
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
