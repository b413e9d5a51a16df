package spool

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/tidelog/tidelog/internal/durable"
	"github.com/tidelog/tidelog/store"
	"github.com/tidelog/tidelog/store/dirstore"
)

// Defaults of Options.
const (
	DefaultMaxBytes       = 1 << 30
	DefaultRetryMin       = 100 * time.Millisecond
	DefaultRetryMax       = 10 * time.Second
	DefaultAttemptTimeout = 5 * time.Minute
	DefaultLogEvery       = time.Minute
	DefaultDeleteWait     = 30 * time.Second
)

// ErrClosed is returned (wrapped) by puts after Close began.
var ErrClosed = errors.New("spool closed")

// ErrPending is returned (wrapped) by DeleteSegment when the segment is still
// waiting in the spool for a destination: deleting it would take it from
// under that destination's publisher. Retention's next pass tries again.
var ErrPending = errors.New("not yet published to every destination")

// Dest is one store the spool publishes to. Name identifies its checkpoint
// in the spool directory, so it must stay the same across restarts for the
// same store; it is made of [A-Za-z0-9._-] and does not begin with '.'.
//
// A destination is given open (Store), or, when its store could not be
// reached yet (a restart during its outage), as Open: then its publisher
// opens it (see Open), and capture to the others need not wait for it.
type Dest struct {
	Name  string
	Store store.Store
	// Open, with Store nil, opens the destination's store. Its publisher
	// calls it first, and again after each failure with the publishing
	// backoff, until it succeeds; until then the destination shows as
	// failing in Status and every item waits in the spool for it, as for
	// a destination down at run time (so a full spool pauses puts). The
	// first Dest, the primary, cannot be opened later: reads go to it.
	Open func(context.Context) (store.Store, error)
	// Location names a destination given with Open until it is open (in
	// logs, Status and String); it must hold no secret.
	Location string
	// OpenErr, with Open, is why the store could not be opened before:
	// Status shows it as the last error until the publisher's first try.
	OpenErr error
}

// Options tune a Spool. The zero value of every field means its default.
type Options struct {
	// MaxBytes bounds the bytes of segments (and gap records) waiting in the
	// spool. A put that would exceed it blocks until destinations catch up,
	// except when the spool is empty: one segment larger than MaxBytes still
	// passes alone, or capture would stop for good.
	MaxBytes int64
	// Log receives the spool's messages (zero value: none).
	Log zerolog.Logger
	// RetryMin and RetryMax bound the backoff between attempts to publish to
	// a failing destination; attempts go on forever.
	RetryMin, RetryMax time.Duration
	// AttemptTimeout bounds one put to a destination, so that a destination
	// that neither answers nor fails cannot hold its publisher forever.
	AttemptTimeout time.Duration
	// LogEvery is the least time between two messages about the same failing
	// destination (the first failure is logged at once).
	LogEvery time.Duration
	// DeleteWait is how long DeleteSegment waits for a segment still pending
	// for some destination before failing with ErrPending.
	DeleteWait time.Duration
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

func (o *Options) setDefaults() error {
	if o.MaxBytes < 0 || o.RetryMin < 0 || o.RetryMax < 0 || o.AttemptTimeout < 0 || o.LogEvery < 0 || o.DeleteWait < 0 {
		return errors.New("negative option")
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.RetryMin == 0 {
		o.RetryMin = DefaultRetryMin
	}
	if o.RetryMax == 0 {
		o.RetryMax = DefaultRetryMax
	}
	o.RetryMax = max(o.RetryMax, o.RetryMin)
	if o.AttemptTimeout == 0 {
		o.AttemptTimeout = DefaultAttemptTimeout
	}
	if o.LogEvery == 0 {
		o.LogEvery = DefaultLogEvery
	}
	if o.DeleteWait == 0 {
		o.DeleteWait = DefaultDeleteWait
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// Spool is a store.Store that keeps every segment and gap put into it in a
// local directory until each destination has it. It is safe for concurrent
// use. See the package comment.
type Spool struct {
	dir  string
	data *dirstore.Store
	opts Options
	log  zerolog.Logger
	lock *os.File

	dests   []*dest
	primary store.Store

	// appendMu serializes appends, so that sequence numbers enter the index
	// in order: a publisher never sees seq n+1 before seq n exists.
	appendMu sync.Mutex
	// gcMu serializes removals of finished entries.
	gcMu sync.Mutex

	mu       sync.Mutex
	entries  []*entry // live queue entries, ascending Seq
	keys     map[itemKey]*keyState
	bytes    int64 // sizes of live items plus reservations of puts in progress
	nextSeq  uint64
	changed  chan struct{} // closed and replaced on every change a waiter may want
	closed   bool          // Close began: puts fail
	stopped  bool          // publishers stopped: appends fail
	paused   time.Time     // a put waits for room since then (warning logged)
	pausedBy string        // destinations holding the spool when the pause began
	waiting  int           // puts waiting for room

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

var _ store.Store = (*Spool)(nil)

// itemKey names one spooled object: a segment, or a gap by its range.
type itemKey struct{ stream, kind, name string }

// keyState counts what refers to an object's bytes in data/: live entries
// (the same segment put twice while the first is still queued) and puts
// writing it now. The file is deleted only when both are zero.
type keyState struct {
	entries int
	writers int
	size    int64 // counted in Spool.bytes while entries > 0
}

// Open opens (or creates) the spool in dir for dests, the first of which is
// the primary: reads and snapshots go to it. It recovers what a crash left
// (see docs/store-layout.md) and starts one publisher per destination; it
// does not contact the destinations itself, so it succeeds while they are
// down. Close stops the publishers.
func Open(ctx context.Context, dir string, dests []Dest, opts Options) (*Spool, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("spool %s: %w", dir, err)
	}
	fail := func(err error) (*Spool, error) { return nil, fmt.Errorf("spool %s: %w", abs, err) }
	if err := opts.setDefaults(); err != nil {
		return fail(err)
	}
	if len(dests) == 0 {
		return fail(errors.New("no destination"))
	}
	seen := map[string]bool{}
	for _, d := range dests {
		if err := store.ValidSnapshotPart("destination name", d.Name); err != nil {
			return fail(err)
		}
		if seen[d.Name] {
			return fail(fmt.Errorf("destination name %q given twice", d.Name))
		}
		if err := d.check(len(seen) == 0); err != nil {
			return fail(err)
		}
		seen[d.Name] = true
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	if err := initDir(abs); err != nil {
		return fail(err)
	}
	lock, err := lockDir(filepath.Join(abs, lockName))
	if err != nil {
		return fail(err)
	}
	s := &Spool{
		dir:     abs,
		opts:    opts,
		log:     opts.Log.With().Str("spool", abs).Logger(),
		lock:    lock,
		primary: dests[0].Store,
		keys:    map[itemKey]*keyState{},
		changed: make(chan struct{}),
	}
	for _, d := range dests {
		s.dests = append(s.dests, newDest(d, opts.Now()))
	}
	if err := s.recover(ctx); err != nil {
		_ = unlockDir(lock)
		return fail(err)
	}
	run, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	for _, d := range s.dests {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.publisher(run, d)
		}()
	}
	s.log.Info().Int("pending", len(s.entries)).Int64("bytes", s.bytes).Str("destinations", s.destNames()).Msg("spool open")
	s.logUnopened()
	return s, nil
}

// String names the spool and where it publishes, e.g.
// "spool:/var/lib/tidelog/spool -> [s3=s3:backups/rs0, standby=kafka:k1:9092/tidelog]".
func (s *Spool) String() string {
	parts := make([]string, len(s.dests))
	for i, d := range s.dests {
		parts[i] = d.name + "=" + d.String()
	}
	return "spool:" + s.dir + " -> [" + strings.Join(parts, ", ") + "]"
}

func (s *Spool) destNames() string {
	names := make([]string, len(s.dests))
	for i, d := range s.dests {
		names[i] = d.name
	}
	return strings.Join(names, ",")
}

// Close stops accepting puts, lets the publishers go on until every
// destination has everything or ctx ends, then stops them and releases the
// directory. What is still pending stays in the spool and is published after
// the next Open. Close returns nil in both cases; Status tells what is left.
// With a destination down, only ctx ends the wait: give it a deadline.
func (s *Spool) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.broadcast()
	for len(s.entries) > 0 {
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
		}
		s.mu.Lock()
		if ctx.Err() != nil {
			break
		}
	}
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	s.mu.Lock()
	s.stopped = true
	left, bytes := len(s.entries), s.bytes
	s.mu.Unlock()
	if left > 0 {
		s.log.Warn().Int("pending", left).Int64("bytes", bytes).Msg("spool closed with items not yet published everywhere; they are published after the next start")
	} else {
		s.log.Info().Msg("spool closed; every destination has everything")
	}
	if err := unlockDir(s.lock); err != nil {
		return fmt.Errorf("spool %s: release lock: %w", s.dir, err)
	}
	return nil
}

// broadcast wakes everything waiting for a change. Call with mu held.
func (s *Spool) broadcast() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// wait waits for the next broadcast or ctx's end. Call with mu held; it
// returns with mu held.
func (s *Spool) wait(ctx context.Context) error {
	ch := s.changed
	s.mu.Unlock()
	defer s.mu.Lock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// minPublished is the highest sequence number every destination holds.
// Call with mu held.
func (s *Spool) minPublished() uint64 {
	m := s.dests[0].position()
	for _, d := range s.dests[1:] {
		m = min(m, d.position())
	}
	return m
}

// position is how far d counts for freeing entries. Call with mu held.
func (d *dest) position() uint64 {
	if d.verified {
		return d.published
	}
	return min(d.published, d.floor)
}

// recover loads the queue and the checkpoints and repairs what a crash can
// leave: finished entries not yet removed, and segment files in data/ that
// no entry refers to (written by a put that did not reach its queue entry;
// the tailer may adopt such a segment, so it is queued, never dropped).
func (s *Spool) recover(ctx context.Context) error {
	var err error
	if s.data, err = dirstore.Open(filepath.Join(s.dir, dataDir), true); err != nil {
		return err
	}
	queue := filepath.Join(s.dir, queueDir)
	destDir := filepath.Join(s.dir, destsDir)
	for _, d := range []string{queue, destDir} {
		if err := removeTemps(d); err != nil {
			return err
		}
	}
	// Checkpoints, including those of destinations no longer configured:
	// sequence numbers must stay above every one ever recorded.
	var maxSeq uint64
	files, err := os.ReadDir(destDir)
	if err != nil {
		return err
	}
	byName := map[string]*dest{}
	for _, d := range s.dests {
		byName[d.name] = d
	}
	for _, f := range files {
		name, ok := strings.CutSuffix(f.Name(), ckptSuffix)
		if !ok || strings.HasPrefix(name, ".") {
			continue
		}
		c, err := readCheckpoint(filepath.Join(destDir, f.Name()))
		d := byName[name]
		if err != nil {
			if d == nil {
				continue
			}
			// Safe: from 0 the destination gets everything the spool
			// holds again, which puts are idempotent for.
			s.log.Error().Err(err).Str("dest", name).Msg("destination checkpoint unreadable; republishing everything the spool holds to it")
			continue
		}
		maxSeq = max(maxSeq, c.Published)
		if d == nil {
			s.log.Info().Str("dest", name).Str("store", c.Store).Msg("checkpoint of a destination no longer configured; ignored")
			continue
		}
		d.published, d.floor, d.hasCheckpoint = c.Published, c.Published, true
		d.ckptStore = c.Store
		if c.Last != nil {
			d.last = c.Last
		}
		if d.opened() != nil {
			s.checkStoreName(d)
		}
	}
	minPub := s.minPublished()

	names, err := os.ReadDir(queue)
	if err != nil {
		return err
	}
	var finished []string
	finishedKeys := map[itemKey]bool{}
	for _, f := range names {
		seq, ok := parseEntryFileName(f.Name())
		if !ok {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		path := filepath.Join(queue, f.Name())
		e, err := readEntry(path)
		if err != nil {
			return fmt.Errorf("queue entry %s: %w; the spool directory is damaged: move it aside and restart (items in it may be missing from some destinations)", path, err)
		}
		if e.Seq != seq {
			return fmt.Errorf("queue entry %s holds sequence number %d", path, e.Seq)
		}
		maxSeq = max(maxSeq, seq)
		if seq <= minPub {
			finished = append(finished, f.Name())
			finishedKeys[e.key()] = true
			continue
		}
		s.entries = append(s.entries, e)
		s.count(e)
	}
	// Finished entries: their bytes first (unless a live entry still needs
	// them), then the entries, as the running spool does.
	for k := range finishedKeys {
		if s.keys[k] == nil && k.kind == kindSegment {
			if err := s.data.DeleteSegment(ctx, k.stream, k.name); err != nil {
				return err
			}
		}
	}
	for _, name := range finished {
		if err := os.Remove(filepath.Join(queue, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if len(finished) > 0 {
		if err := durable.SyncDir(queue); err != nil {
			return err
		}
	}
	s.nextSeq = maxSeq + 1

	// Every live segment entry must have its bytes; orphaned bytes are queued.
	streams, err := s.data.Streams(ctx)
	if err != nil {
		return err
	}
	onDisk := map[itemKey]bool{}
	for _, stream := range streams {
		segs, err := s.data.Segments(ctx, stream)
		if err != nil {
			return err
		}
		for _, name := range segs {
			k := itemKey{stream, kindSegment, name}
			onDisk[k] = true
			if s.keys[k] != nil {
				continue
			}
			if err := s.adopt(ctx, stream, name); err != nil {
				return err
			}
		}
	}
	for _, e := range s.entries {
		if e.Kind == kindSegment && !onDisk[e.key()] {
			return fmt.Errorf("queue entry %s (segment %s/%s) has no bytes in %s: the spool directory was changed by hand; "+
				"to give this segment up for the destinations that lack it (%s), remove the entry file and restart",
				entryFileName(e.Seq), e.Stream, e.Name, filepath.Join(s.dir, dataDir), s.lacking(e.Seq))
		}
	}
	slices.SortFunc(s.entries, func(a, b *entry) int { return compareSeq(a.Seq, b.Seq) })
	s.checkHoles(maxSeq)
	return nil
}

// checkHoles runs at Open, once the queue is loaded. Every sequence number
// below the first queued entry (all of them, with an empty queue) was freed,
// and an entry is freed only once every configured destination holds it.
// A destination whose checkpoint is below that was not configured when
// entries were freed (removed from the config, then added back): its copy
// lacks them, and the spool can no longer give them. That is reported as
// lost, loudly, never resumed over in silence.
func (s *Spool) checkHoles(maxSeq uint64) {
	freedThrough := maxSeq
	if len(s.entries) > 0 {
		freedThrough = s.entries[0].Seq - 1
	}
	for _, d := range s.dests {
		d.floor = min(d.floor, freedThrough)
		if !d.hasCheckpoint || d.published >= freedThrough {
			continue
		}
		hole := fmt.Sprintf("puts %d to %d", d.published+1, freedThrough)
		d.lost = append(d.lost, hole)
		s.log.Error().Str("dest", d.name).Str("store", d.String()).Uint64("published", d.published).Uint64("freed_through", freedThrough).
			Msg("DATA LOST: the spool freed items this destination never got (it was left out of the configuration meanwhile); " +
				"its copy has a hole that publishing will not fill: copy the missing segments from the primary, then run `replayer verify` against it")
	}
}

// adopt queues a segment found in data/ without an entry.
func (s *Spool) adopt(ctx context.Context, stream, name string) error {
	rc, err := s.data.OpenSegment(ctx, stream, name)
	if err != nil {
		return err
	}
	defer rc.Close()
	added := s.opts.Now()
	if f, ok := rc.(interface{ Stat() (fs.FileInfo, error) }); ok {
		if fi, err := f.Stat(); err == nil {
			added = fi.ModTime() // the time of the put, for the backlog's age
		}
	}
	b, err := readAll(rc, -1)
	if err != nil {
		return fmt.Errorf("read %s/%s: %w", stream, name, err)
	}
	e := &entry{V: formatVersion, Seq: s.nextSeq, Stream: stream, Kind: kindSegment, Name: name,
		Size: int64(len(b)), CRC32C: crcHex(b), Added: added.UTC()}
	if err := s.writeEntry(e); err != nil {
		return err
	}
	s.nextSeq++
	s.entries = append(s.entries, e)
	s.count(e)
	s.log.Info().Str("stream", stream).Str("segment", name).Msg("queued a spooled segment whose put a crash interrupted")
	return nil
}

// count adds a live entry to keys and bytes (recovery; no put involved).
func (s *Spool) count(e *entry) {
	k := e.key()
	ks := s.keys[k]
	if ks == nil {
		ks = &keyState{}
		s.keys[k] = ks
	}
	if ks.entries > 0 {
		s.bytes -= ks.size
	}
	ks.entries++
	ks.size = e.Size
	s.bytes += e.Size
}

// lacking names the destinations that do not hold seq yet.
func (s *Spool) lacking(seq uint64) string {
	var names []string
	for _, d := range s.dests {
		if d.published < seq {
			names = append(names, d.name)
		}
	}
	return strings.Join(names, ",")
}

func compareSeq(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
