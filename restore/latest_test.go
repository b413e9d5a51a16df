package restore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
	"testing"
	"time"

	"github.com/tidelog/tidelog/crypt"
	"github.com/tidelog/tidelog/crypt/crypttest"
	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/plan"
	"github.com/tidelog/tidelog/segment"
	"github.com/tidelog/tidelog/segment/segmenttest"
	"github.com/tidelog/tidelog/snapshot"
	"github.com/tidelog/tidelog/store"
	"github.com/tidelog/tidelog/store/dirstore"
)

// Planning reads only the store, so these tests need no server.

const testT = 1700000000

func pos(i uint32) oplog.Timestamp { return oplog.Timestamp{T: testT, I: i} }

// gappedStream stores stream name as two chains of encrypted segments,
// 1..100 and 500..599, with a recorded gap between them: positions after
// the gap are restorable only from a snapshot taken after it.
func gappedStream(t *testing.T, st *dirstore.Store, name string, keys *crypt.Keyring) {
	t.Helper()
	ctx := context.Background()
	chain := func(from, n uint32) {
		segmenttest.Put(t, st, name, segment.WriterOptions{Keys: keys}, segment.Link{}, pos(from), int(n))
	}
	chain(1, 100)
	if err := st.PutGap(ctx, name, store.Gap{After: pos(100), Next: pos(500), Detected: time.Now(), Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	chain(500, 100)
}

// putManifest stores snapshot id of stream (no collections, start..end) as
// docs/snapshot-format.md specifies it, sealed with keys (nil: plaintext,
// which anyone who can write to the store can forge).
func putManifest(t *testing.T, st *dirstore.Store, stream, id string, start, end uint32, keys *crypt.Keyring) {
	t.Helper()
	finished := time.Now().UTC()
	body, err := json.Marshal(map[string]any{"version": snapshot.FormatVersion, "id": id, "stream": stream, "replicaSet": stream, "server": "",
		"start": pos(start).String(), "end": pos(end).String(), "taken": finished.Add(-time.Minute), "finished": finished,
		"includeUsers": false, "files": 0, "docs": 0, "bytes": 0, "storedBytes": 0, "collections": []any{}})
	if err != nil {
		t.Fatal(err)
	}
	data := fmt.Appendf(nil, `{"format": "tidelog-snapshot", "checksum": "crc32c:%08x", "manifest": %s}`,
		crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)), body)
	if keys != nil {
		var sealed bytes.Buffer
		w, err := crypt.NewWriter(&sealed, keys, "snapshot/"+stream+"/"+id+"/"+snapshot.ManifestName)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		data = sealed.Bytes()
	}
	if _, err := st.PutSnapshotFile(context.Background(), stream, id, snapshot.ManifestName, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
}

// damage flips a bit inside the last authentication tag of a stored file.
func damage(t *testing.T, st *dirstore.Store, stream, id, file string) {
	t.Helper()
	ctx := context.Background()
	rc, err := st.OpenSnapshotFile(ctx, stream, id, file)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	_, err = b.ReadFrom(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	data := b.Bytes()
	data[len(data)-5] ^= 1
	if _, err := st.PutSnapshotFile(ctx, stream, id, file, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
}

func newStore(t *testing.T) *dirstore.Store {
	t.Helper()
	st, err := dirstore.Open(t.TempDir(), true)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// The only snapshot after a gap cannot be used: a restore to the latest
// position fails with that snapshot's own error (so a missing key is exit
// 2 and damage exit 4 in replayer), instead of quietly restoring to the
// end of the history before the gap. An explicit position restorable
// without it is planned without it, noting it.
func TestPrepareLatestNeedsUnusableSnapshot(t *testing.T) {
	ctx := context.Background()
	keys := crypttest.Ring(t)
	id := "20231114T221320Z-1700000000.0000000510"
	for _, tc := range []struct {
		name  string
		store func(st *dirstore.Store)
		want  error
	}{
		{"key not given", func(st *dirstore.Store) { putManifest(t, st, "rs0", id, 510, 520, crypttest.Ring(t)) }, crypt.ErrWrongKey},
		{"damaged", func(st *dirstore.Store) {
			putManifest(t, st, "rs0", id, 510, 520, keys)
			damage(t, st, "rs0", id, snapshot.ManifestName)
		}, snapshot.ErrCorrupt},
		{"plaintext after encryption began", func(st *dirstore.Store) { putManifest(t, st, "rs0", id, 510, 520, nil) }, crypt.ErrNotEncrypted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newStore(t)
			gappedStream(t, st, "rs0", keys)
			tc.store(st)
			for _, require := range []bool{true, false} {
				opts := Options{Stream: "rs0", To: oplog.Max, Keys: keys, RequireEncryption: require}
				p, err := Prepare(ctx, st, opts)
				var le *LatestError
				if err == nil {
					t.Fatalf("--to latest planned to %s (newest entry %s) without error; %d snapshots left out", p.Plan.To, pos(599), len(p.Unreadable))
				}
				want := "stream rs0: the latest position needs snapshot " + id + " (its segments reach " + pos(599).String() +
					"; without it the latest restorable position is " + pos(100).String() + "), which cannot be used: "
				if !errors.As(err, &le) || !errors.Is(err, tc.want) || !strings.HasPrefix(err.Error(), want) ||
					!strings.HasSuffix(err.Error(), "or restore to an explicit position: "+pos(100).String()+" is restorable without it") {
					t.Fatalf("encryption required %v: %v; want a *LatestError matching %v", require, err, tc.want)
				}
				opts.To = pos(50)
				p, err = Prepare(ctx, st, opts)
				if err != nil || p.Plan.To != pos(50) || len(p.Unreadable) != 1 || p.Unreadable[0].ID != id || !errors.Is(p.Unreadable[0].Err, tc.want) {
					t.Fatalf("--to %s, restorable without the snapshot: %+v, %v", pos(50), p, err)
				}
			}
		})
	}
}

// An unusable snapshot that could not take a restore further than the
// plan without it (its chain ends where the plan does) does not fail a
// restore to the latest position: it is only noted.
func TestPrepareLatestIgnoresUnusableSnapshotThatReachesNoFurther(t *testing.T) {
	ctx := context.Background()
	keys := crypttest.Ring(t)
	st := newStore(t)
	gappedStream(t, st, "rs0", keys)
	readable := "20231114T221320Z-1700000000.0000000520"
	unreadable := "20231114T221320Z-1700000000.0000000510"
	putManifest(t, st, "rs0", readable, 520, 530, keys)
	putManifest(t, st, "rs0", unreadable, 510, 515, crypttest.Ring(t))
	p, err := Prepare(ctx, st, Options{Stream: "rs0", To: oplog.Max, Keys: keys, RequireEncryption: true})
	if err != nil || p.Plan.To != pos(599) || p.Snapshot == nil || p.Snapshot.ID != readable || len(p.Unreadable) != 1 {
		t.Fatalf("latest: %+v, %v; want to %s from %s, noting %s", p, err, pos(599), readable, unreadable)
	}
}

// A cluster restore to the latest position fails the same way when a
// member's unusable snapshot would move the position common to every
// member further; not when another member holds it back anyway.
func TestPrepareClusterLatestNeedsUnusableSnapshot(t *testing.T) {
	ctx := context.Background()
	keys := crypttest.Ring(t)
	st := newStore(t)
	gappedStream(t, st, "rs0", keys)
	gappedStream(t, st, "rs1", keys)
	id := "20231114T221320Z-1700000000.0000000510"
	putManifest(t, st, "rs1", id, 510, 520, crypttest.Ring(t))
	opts := Options{Keys: keys, RequireEncryption: true}

	// rs0 reaches past its gap by no snapshot: the common position is 100 either way.
	to, _, err := PrepareCluster(ctx, st, []string{"rs0", "rs1"}, oplog.Max, opts)
	if err != nil || to != pos(100) {
		t.Fatalf("held back by rs0: %s, %v; want %s", to, err, pos(100))
	}

	// With a snapshot of rs0 after its gap, only rs1's unreadable one holds the cluster back.
	putManifest(t, st, "rs0", "20231114T221320Z-1700000000.0000000520", 520, 530, keys)
	to, _, err = PrepareCluster(ctx, st, []string{"rs0", "rs1"}, oplog.Max, opts)
	var le *LatestError
	if !errors.As(err, &le) || le.Stream != "rs1" || le.Snapshot != id || !errors.Is(err, crypt.ErrWrongKey) || le.Without != pos(100) || le.Reach != pos(599) {
		t.Fatalf("cluster latest: %s, %v; want a *LatestError for rs1's %s", to, err, id)
	}
	// An explicit position restorable on both without it is planned.
	if to, preps, err := PrepareCluster(ctx, st, []string{"rs0", "rs1"}, pos(60), opts); err != nil || to != pos(60) || len(preps) != 2 {
		t.Fatalf("cluster --to %s: %s, %v", pos(60), to, err)
	}
	var we *plan.ClusterError
	if _, _, err := PrepareCluster(ctx, st, []string{"rs0", "rs1"}, pos(550), opts); !errors.As(err, &we) {
		t.Fatalf("cluster --to %s, past rs1's gap: %v; want a *plan.ClusterError", pos(550), err)
	}
}
