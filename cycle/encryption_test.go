package cycle

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tidelog/tidelog/crypt"
	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/retention"
	"github.com/tidelog/tidelog/segment"
	"github.com/tidelog/tidelog/segment/segmenttest"
	"github.com/tidelog/tidelog/snapshot"
	"github.com/tidelog/tidelog/store/dirstore"
)

// These tests need no source server: Retain, dropIncomplete and the
// refusal to snapshot without a key work from the store alone.

const testT = 1700000000

func pos(i uint32) oplog.Timestamp { return oplog.Timestamp{T: testT, I: i} }

// storeChain stores a chain of rs0 segments of 100 entries each from
// position 1, the first plain of them plaintext and the rest encrypted
// with keys.
func storeChain(t *testing.T, st *dirstore.Store, keys *crypt.Keyring, plain, n int) {
	segmenttest.Chain(t, st, "rs0", keys, testT, plain, n)
}

// putManifest stores a manifest of rs0 (no collections) as
// docs/snapshot-format.md specifies it, checksum included: sealed with
// keys, as tailerd writes it, or, with nil keys, in plaintext, which is
// what anyone who can write to the store can forge.
func putManifest(t *testing.T, st *dirstore.Store, id string, start, end uint32, finished time.Time, keys *crypt.Keyring) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"version": snapshot.FormatVersion, "id": id, "stream": "rs0", "replicaSet": "rs0", "server": "",
		"start": pos(start).String(), "end": pos(end).String(), "taken": finished.Add(-time.Minute).UTC(), "finished": finished.UTC(),
		"includeUsers": false, "files": 0, "docs": 0, "bytes": 0, "storedBytes": 0, "collections": []any{}})
	if err != nil {
		t.Fatal(err)
	}
	data := fmt.Appendf(nil, `{"format": "tidelog-snapshot", "checksum": "crc32c:%08x", "manifest": %s}`,
		crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)), body)
	if keys != nil {
		var sealed bytes.Buffer
		w, err := crypt.NewWriter(&sealed, keys, "snapshot/rs0/"+id+"/"+snapshot.ManifestName)
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
	if _, err := st.PutSnapshotFile(context.Background(), "rs0", id, snapshot.ManifestName, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
}

func testStore(t *testing.T) *dirstore.Store {
	t.Helper()
	st, err := dirstore.Open(t.TempDir(), true)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func testKeys(t *testing.T) *crypt.Keyring {
	t.Helper()
	kr, err := crypt.NewKeyring(crypt.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func storeState(t *testing.T, st *dirstore.Store) (snaps, segs []string) {
	t.Helper()
	snaps, err := st.Snapshots(context.Background(), "rs0")
	if err != nil {
		t.Fatal(err)
	}
	segs, err = st.Segments(context.Background(), "rs0")
	if err != nil {
		t.Fatal(err)
	}
	return snaps, segs
}

func storeRunner(t *testing.T, st *dirstore.Store, cfg Config) (*Runner, *bytes.Buffer) {
	var log bytes.Buffer
	cfg.Snapshot.Stream = "rs0"
	r := New(nil, st, nil, cfg, zerolog.New(zerolog.MultiLevelWriter(&log, zerolog.NewTestWriter(t))))
	r.usableWait = 0
	return r, &log
}

// A forged plaintext manifest newer than the stream's encrypted snapshots
// (no key needed, its checksum is not secret) is never counted: retention
// keeping one snapshot does not delete the real one for it, and no
// segment is pruned while it is there.
func TestRetentionIgnoresPlaintextManifestAfterEncryption(t *testing.T) {
	keys := testKeys(t)
	now := time.Now()
	for _, tc := range []struct {
		name  string
		plain int    // plaintext segments before the encrypted ones
		real  string // the real snapshot
		keys  *crypt.Keyring
	}{
		// An encrypted snapshot shows where encryption began.
		{"after an encrypted snapshot", 0, "20231114T221320Z-1700000000.0000000002", keys},
		// Only the segments do: the real snapshot predates encryption.
		{"after the first encrypted segment", 1, "20231114T221320Z-1700000000.0000000002", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := testStore(t)
			storeChain(t, st, keys, tc.plain, 3)
			putManifest(t, st, tc.real, 2, 5, now.Add(-2*time.Hour), tc.keys)
			forged := "20231114T231320Z-1700000000.0000000250"
			putManifest(t, st, forged, 250, 260, now.Add(-time.Minute), nil)
			r, log := storeRunner(t, st, Config{Retention: retention.Policy{Keep: 1}, Prune: true, Snapshot: snapshot.Options{Keys: keys}})
			if err := r.Retain(t.Context(), "rs0"); err != nil {
				t.Fatal(err)
			}
			snaps, segs := storeState(t, st)
			if !slices.Equal(snaps, []string{tc.real, forged}) || len(segs) != 3 {
				t.Fatalf("a forged plaintext manifest drove retention: snapshots left %v, segments left %v", snaps, segs)
			}
			for _, want := range []string{
				"snapshot rs0/" + forged + " is not encrypted, but the stream is encrypted since ",
				"plaintext after encryption began is forged, or was written by a tailerd without its key",
				"snapshot refused: it is not counted by the schedule or retention, is kept, and no segment is pruned while it is there; check where it came from, then move it out of the store",
			} {
				if !strings.Contains(log.String(), want) {
					t.Errorf("log lacks %q:\n%s", want, log)
				}
			}
		})
	}
}

// Plaintext snapshots from before encryption began are the stream's own:
// they count, and age out as the policy says, pruning what only they
// needed.
func TestRetentionAgesOutPlaintextSnapshotsBeforeEncryption(t *testing.T) {
	keys := testKeys(t)
	now := time.Now()
	st := testStore(t)
	storeChain(t, st, keys, 1, 3) // 1..100 plaintext, 101..300 encrypted
	old := "20231114T221320Z-1700000000.0000000002"
	enc := "20231114T231320Z-1700000000.0000000150"
	putManifest(t, st, old, 2, 5, now.Add(-3*time.Hour), nil)
	putManifest(t, st, enc, 150, 160, now.Add(-time.Hour), keys)
	r, _ := storeRunner(t, st, Config{Retention: retention.Policy{Keep: 1}, Prune: true, Snapshot: snapshot.Options{Keys: keys}})
	if err := r.Retain(t.Context(), "rs0"); err != nil {
		t.Fatal(err)
	}
	snaps, segs := storeState(t, st)
	if !slices.Equal(snaps, []string{enc}) || len(segs) != 2 || segs[0] != segment.Name(pos(101), pos(200)) {
		t.Fatalf("snapshots left %v, segments left %v; want only %s, and the segments from 101", snaps, segs, enc)
	}
}

// At start the cycle deletes a snapshot without a manifest (interrupted)
// and keeps one whose encrypted manifest fails authentication: its data
// files may be intact, and a person decides.
func TestDropIncompleteKeepsDamagedEncryptedManifest(t *testing.T) {
	keys := testKeys(t)
	st := testStore(t)
	ctx := t.Context()
	storeChain(t, st, keys, 0, 1)
	damaged := "20231114T221320Z-1700000000.0000000002"
	putManifest(t, st, damaged, 2, 5, time.Now(), keys)
	rc, err := st.OpenSnapshotFile(ctx, "rs0", damaged, snapshot.ManifestName)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.ReadFrom(rc)
	rc.Close()
	data := b.Bytes()
	data[len(data)-5] ^= 1 // inside the last GCM tag
	if _, err := st.PutSnapshotFile(ctx, "rs0", damaged, snapshot.ManifestName, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	interrupted := "20231114T231320Z-1700000000.0000000050"
	if _, err := st.PutSnapshotFile(ctx, "rs0", interrupted, "c0000-d.c-p0000.bson.lz4", strings.NewReader("partial")); err != nil {
		t.Fatal(err)
	}
	r, log := storeRunner(t, st, Config{Snapshot: snapshot.Options{Keys: keys}})
	if err := r.dropIncomplete(ctx, "rs0"); err != nil {
		t.Fatal(err)
	}
	if snaps, _ := storeState(t, st); !slices.Equal(snaps, []string{damaged}) {
		t.Fatalf("snapshots left %v; want only the damaged %s", snaps, damaged)
	}
	if !strings.Contains(log.String(), "snapshot has a damaged manifest: it is not used for restores and is kept for inspection") ||
		!strings.Contains(log.String(), "authentication failed") {
		t.Fatalf("log:\n%s", log)
	}
}

// Without a key, the cycle takes no snapshot of a stream whose snapshots
// are encrypted (it would be plaintext after encrypted ones, refused by
// every reader, and the data stored unencrypted): Cycle fails saying what
// to give, and Run stops on it rather than retry.
func TestCycleWithoutKeyRefusesEncryptedStream(t *testing.T) {
	keys := testKeys(t)
	st := testStore(t)
	id := "20231114T221320Z-1700000000.0000000002"
	putManifest(t, st, id, 2, 5, time.Now(), keys)
	r, _ := storeRunner(t, st, Config{})
	want := "the snapshots of stream rs0 are encrypted (snapshot " + id + " with key " + keys.Primary().ID().String() +
		") but no key is given: give it (--encryption-key-file or TIDELOG_ENCRYPTION_KEY); tidelog does not turn encryption off"
	if _, err := r.Cycle(t.Context()); !errors.Is(err, crypt.ErrKeyRequired) || err.Error() != want {
		t.Fatalf("Cycle without a key: %v; want %q", err, want)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	r.Trigger()
	if err := r.Run(ctx); !errors.Is(err, crypt.ErrKeyRequired) || ctx.Err() != nil {
		t.Fatalf("Run without a key: %v (context %v); want it to stop on the missing key", err, ctx.Err())
	}
	if snaps, _ := storeState(t, st); !slices.Equal(snaps, []string{id}) {
		t.Fatalf("snapshots %v; want only %s", snaps, id)
	}
}
