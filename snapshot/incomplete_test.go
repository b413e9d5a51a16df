package snapshot

import (
	"context"
	"errors"
	"io"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/store"
)

// watchStore wraps a store to watch and disturb snapshot puts.
type watchStore struct {
	store.Store
	mu       sync.Mutex
	inflight int
	stored   []string // names of completed puts, in order
	// before runs before a put; an error fails it. stored runs after a put
	// succeeded, with the names stored so far and the puts still running.
	before func(name string) error
	after  func(name string, stored []string, inflight int)
}

func (w *watchStore) PutSnapshotFile(ctx context.Context, stream, id, name string, r io.Reader) (int64, error) {
	if w.before != nil {
		if err := w.before(name); err != nil {
			return 0, err
		}
	}
	w.mu.Lock()
	w.inflight++
	w.mu.Unlock()
	n, err := w.Store.PutSnapshotFile(ctx, stream, id, name, r)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.inflight--
	if err == nil {
		w.stored = append(w.stored, name)
		if w.after != nil {
			w.after(name, slices.Clone(w.stored), w.inflight)
		}
	}
	return n, err
}

// A Take cancelled mid-copy (as a crash would stop it) or whose manifest
// cannot be stored leaves an incomplete snapshot, which List never reports
// as complete; a later Take is unaffected. In a successful Take the
// manifest is stored last, after every data file it lists.
func TestInterrupted(t *testing.T) {
	ctx := testCtx(t)
	e := newEnv(t)
	for _, ns := range []string{"a.one", "a.two", "b.three", "b.four"} {
		seq(t, ctx, e.client, ns, 0, 300)
	}

	// 1. Cancelled after the first data file is stored.
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ws := &watchStore{Store: e.st, after: func(string, []string, int) { cancel() }}
	_, err := Take(cctx, e.client, ws, Options{Workers: 1, SplitDocs: 100}, testLog(t))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Take: %v, want context.Canceled", err)
	}
	ids, err := e.st.Snapshots(ctx, testserver.ReplicaSet)
	if err != nil || len(ids) != 1 {
		t.Fatalf("after a cancelled Take the store holds snapshots %v (%v), want one", ids, err)
	}
	cancelled := ids[0]
	if files, _ := e.st.SnapshotFiles(ctx, testserver.ReplicaSet, cancelled); len(files) == 0 || slices.Contains(files, ManifestName) {
		t.Fatalf("cancelled snapshot holds %v: want data files and no manifest", files)
	}
	if _, err := ReadManifest(ctx, e.st, testserver.ReplicaSet, cancelled); !errors.Is(err, ErrIncomplete) || !errors.Is(err, store.ErrNotExist) {
		t.Fatalf("ReadManifest of the cancelled snapshot: %v, want ErrIncomplete", err)
	}

	// 2. Every data file stored, the manifest not.
	ws = &watchStore{Store: e.st, before: func(name string) error {
		if name == ManifestName {
			return errors.New("disk full")
		}
		return nil
	}}
	if _, err := Take(ctx, e.client, ws, Options{}, testLog(t)); err == nil {
		t.Fatal("Take whose manifest could not be stored succeeded")
	}

	// 3. A successful Take: the manifest comes last.
	var manifestAfter []string
	ws = &watchStore{Store: e.st, after: func(name string, stored []string, inflight int) {
		if name == ManifestName {
			manifestAfter = stored[:len(stored)-1]
			if inflight != 0 {
				t.Errorf("manifest stored while %d data files were still being written", inflight)
			}
		}
	}}
	m, err := Take(ctx, e.client, ws, Options{Workers: 4, SplitDocs: 100}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	if ws.stored[len(ws.stored)-1] != ManifestName {
		t.Fatalf("puts %v: the manifest is not last", ws.stored)
	}
	for _, c := range m.Collections {
		for _, f := range c.Files {
			if !slices.Contains(manifestAfter, f.Name) {
				t.Errorf("data file %s was not stored before the manifest", f.Name)
			}
		}
	}

	complete, incomplete, err := List(ctx, e.st, testserver.ReplicaSet)
	if err != nil {
		t.Fatal(err)
	}
	if len(complete) != 1 || complete[0].ID != m.ID {
		t.Fatalf("List: complete %v, want only %s", manifestIDs(complete), m.ID)
	}
	if len(incomplete) != 2 || !slices.Contains(incomplete, cancelled) {
		t.Fatalf("List: incomplete %v, want the cancelled %s and the one without a manifest", incomplete, cancelled)
	}
	if !reflect.DeepEqual(complete[0], m) {
		t.Fatalf("List's manifest differs from Take's:\n %+v\n %+v", complete[0], m)
	}
}

func manifestIDs(ms []*Manifest) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}
