package spool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/store"
	"github.com/tidelog/tidelog/store/dirstore"
)

// testTimeout bounds every wait of a test, so a hang fails instead of stalling.
const testTimeout = 15 * time.Second

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// logBuf collects the spool's log lines; safe for concurrent writes.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// count is how many lines contain s.
func (l *logBuf) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// flaky is a store that fails every segment and gap call while down is set:
// a destination that is unreachable.
type flaky struct {
	store.Store
	down atomic.Bool
	puts atomic.Int64 // successful PutSegment calls
}

var errDown = errors.New("injected outage")

func (f *flaky) PutSegment(ctx context.Context, stream, name string, data []byte) error {
	if f.down.Load() {
		return errDown
	}
	err := f.Store.PutSegment(ctx, stream, name, data)
	if err == nil {
		f.puts.Add(1)
	}
	return err
}

func (f *flaky) PutGap(ctx context.Context, stream string, g store.Gap) error {
	if f.down.Load() {
		return errDown
	}
	return f.Store.PutGap(ctx, stream, g)
}

func (f *flaky) Segments(ctx context.Context, stream string) ([]string, error) {
	if f.down.Load() {
		return nil, errDown
	}
	return f.Store.Segments(ctx, stream)
}

func (f *flaky) Gaps(ctx context.Context, stream string) ([]store.Gap, error) {
	if f.down.Load() {
		return nil, errDown
	}
	return f.Store.Gaps(ctx, stream)
}

func newDirStore(t *testing.T) *dirstore.Store {
	t.Helper()
	s, err := dirstore.Open(filepath.Join(t.TempDir(), "store"), true)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fastOpts retries quickly, so that tests see a recovery at once.
func fastOpts(log io.Writer) Options {
	o := Options{RetryMin: 5 * time.Millisecond, RetryMax: 50 * time.Millisecond, AttemptTimeout: 5 * time.Second, LogEvery: time.Hour}
	if log != nil {
		o.Log = zerolog.New(log)
	}
	return o
}

// openSpool opens a spool in dir, closed (without draining) at the end.
func openSpool(t *testing.T, dir string, dests []Dest, opts Options) *Spool {
	t.Helper()
	s, err := Open(testCtx(t), dir, dests, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { closeNow(t, s) })
	return s
}

// closeNow closes s without waiting for anything to drain.
func closeNow(t *testing.T, s *Spool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// waitFor polls cond until it holds, failing the test after testTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling interval of a bounded wait, not a stand-in for it
	}
}

// drained waits until every destination of s has everything.
func drained(t *testing.T, s *Spool) {
	t.Helper()
	waitFor(t, "every destination to have everything", func() bool {
		st := s.Status()
		return st.Items == 0 && st.Bytes == 0
	})
}

func destStatus(s *Spool, name string) DestStatus {
	for _, d := range s.Status().Dests {
		if d.Name == name {
			return d
		}
	}
	return DestStatus{}
}

func segName(i int) string {
	return fmt.Sprintf("%010d.%010d-%010d.%010d.tseg", 1700000000, i, 1700000000, i)
}

// segData is the content of test segment i of stream: distinct per segment.
func segData(stream string, i, size int) []byte {
	unit := []byte(fmt.Sprintf("%s/%d;", stream, i))
	return bytes.Repeat(unit, size/len(unit)+1)[:size]
}

func testGap(i int) store.Gap {
	return store.Gap{
		After:    oplog.Timestamp{T: 1700000000, I: uint32(i)},
		Next:     oplog.Timestamp{T: 1700000100, I: uint32(i)},
		Detected: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Reason:   "test",
	}
}

func put(t *testing.T, s store.Store, stream string, i, size int) {
	t.Helper()
	if err := s.PutSegment(testCtx(t), stream, segName(i), segData(stream, i, size)); err != nil {
		t.Fatalf("PutSegment(%s, %d): %v", stream, i, err)
	}
}

// holds checks that st holds exactly segments 0..n-1 of stream with their
// bytes, each once.
func holds(t *testing.T, st store.Store, stream string, n, size int) {
	t.Helper()
	ctx := testCtx(t)
	names, err := st.Segments(ctx, stream)
	if err != nil {
		t.Fatalf("%s: Segments(%s): %v", st, stream, err)
	}
	var want []string
	for i := range n {
		want = append(want, segName(i))
	}
	if !slices.Equal(names, want) {
		t.Fatalf("%s holds %d segments of %s %q, want %d", st, len(names), stream, names, n)
	}
	for i := range n {
		if got := readSeg(t, st, stream, segName(i)); !bytes.Equal(got, segData(stream, i, size)) {
			t.Fatalf("%s: %s/%s reads other bytes", st, stream, segName(i))
		}
	}
}

func readSeg(t *testing.T, st store.Store, stream, name string) []byte {
	t.Helper()
	rc, err := st.OpenSegment(testCtx(t), stream, name)
	if err != nil {
		t.Fatalf("%s: OpenSegment(%s/%s): %v", st, stream, name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gapsOf(t *testing.T, st store.Store, stream string) []string {
	t.Helper()
	gaps, err := st.Gaps(testCtx(t), stream)
	if err != nil {
		t.Fatalf("%s: Gaps(%s): %v", st, stream, err)
	}
	var names []string
	for _, g := range gaps {
		names = append(names, gapName(g))
	}
	return names
}
