package cycle

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tidelog/tidelog/internal/testlog"
	"github.com/tidelog/tidelog/snapshot"
	"github.com/tidelog/tidelog/store/dirstore"
)

// flakyManifest is a store whose read of one snapshot's manifest fails
// once, on the fail-th read, with what fail returns: the store not
// answering, or the context ending.
type flakyManifest struct {
	*dirstore.Store
	id    string
	at    int32
	fail  func(ctx context.Context) error
	reads atomic.Int32
}

func (f *flakyManifest) OpenSnapshotFile(ctx context.Context, stream, id, name string) (io.ReadCloser, error) {
	if id == f.id && name == snapshot.ManifestName && f.reads.Add(1) == f.at {
		return nil, f.fail(ctx)
	}
	return f.Store.OpenSnapshotFile(ctx, stream, id, name)
}

const interruptedID = "20231114T231320Z-1700000000.0000000050"

func interruptedSnapshot(t *testing.T) *dirstore.Store {
	t.Helper()
	st := testStore(t)
	if _, err := st.PutSnapshotFile(t.Context(), "rs0", interruptedID, "c0000-d.c-p0000.bson.lz4", strings.NewReader("partial")); err != nil {
		t.Fatal(err)
	}
	return st
}

// The cleanup reads an interrupted snapshot's manifest again just before
// deleting it. A read that fails (the store did not answer, or the daemon
// is stopping) says nothing about the snapshot: it is kept for now and the
// cleanup fails, saying so, rather than passing it for one with a manifest;
// the next cleanup deletes it.
func TestDropIncompleteRetriesAFailedRead(t *testing.T) {
	for _, tc := range []struct {
		name string
		fail func(ctx context.Context, cancel context.CancelFunc) error
		is   error
	}{
		{"store did not answer", func(context.Context, context.CancelFunc) error {
			return errors.New("injected: read tcp 127.0.0.1:9000: connection reset by peer")
		}, nil},
		{"stopping", func(ctx context.Context, cancel context.CancelFunc) error { cancel(); return ctx.Err() }, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := interruptedSnapshot(t)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			st := &flakyManifest{Store: dir, id: interruptedID, at: 2, fail: func(ctx context.Context) error { return tc.fail(ctx, cancel) }}
			var log bytes.Buffer
			r := New(nil, st, nil, Config{Snapshot: snapshot.Options{Stream: "rs0"}}, zerolog.New(&log))
			err := r.dropIncomplete(ctx, "rs0")
			if err == nil || !strings.Contains(err.Error(), interruptedID) || tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("dropIncomplete with the re-read failing: %v; want an error naming %s", err, interruptedID)
			}
			if snaps, _ := storeState(t, dir); !slices.Equal(snaps, []string{interruptedID}) {
				t.Fatalf("snapshots %v after a failed read; want %s kept for now", snaps, interruptedID)
			}
			if strings.Contains(log.String(), "damaged manifest") {
				t.Errorf("a failed read was reported as a damaged manifest:\n%s", log.String())
			}
			if err := r.dropIncomplete(t.Context(), "rs0"); err != nil {
				t.Fatal(err)
			}
			if snaps, _ := storeState(t, dir); len(snaps) != 0 {
				t.Fatalf("snapshots %v after the store answered; want the interrupted one deleted", snaps)
			}
		})
	}
}

// Run does not leave an interrupted snapshot until the next start when
// its first cleanup fails: it tries again.
func TestRunRetriesTheCleanup(t *testing.T) {
	dir := interruptedSnapshot(t)
	st := &flakyManifest{Store: dir, id: interruptedID, at: 2, fail: func(context.Context) error {
		return errors.New("injected: connection refused")
	}}
	var log testlog.Buffer
	r := New(nil, st, nil, Config{Snapshot: snapshot.Options{Stream: "rs0"}}, log.Logger())
	r.cleanupRetry = 50 * time.Millisecond
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		snaps, _ := storeState(t, dir)
		if len(snaps) == 0 {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			<-done
			t.Fatalf("snapshots %v 30s after start; want the interrupted one deleted by a retried cleanup\n%s", snaps, log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "could not remove interrupted snapshots; trying again") {
		t.Errorf("the failed cleanup was not logged:\n%s", log.String())
	}
}
