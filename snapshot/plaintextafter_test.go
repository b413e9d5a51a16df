package snapshot

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tidelog/tidelog/crypt"
	"github.com/tidelog/tidelog/crypt/crypttest"
	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/store/dirstore"
)

// These tests write manifests as Take would, without a source server: what
// ListWith and the readers make of a store is all they look at.

// storedSnapshot writes snapshot id of stream rs0 starting at start.I (T
// fixed), sealed with keys when it holds one, with one collection of one
// data file whose bytes are data (nil: a plaintext lz4 frame of one
// document), and returns its manifest as written.
func storedSnapshot(t *testing.T, st *dirstore.Store, id string, start uint32, keys *crypt.Keyring, data []byte) *Manifest {
	t.Helper()
	ctx := context.Background()
	if data == nil {
		data = oneDocFrame(t)
	}
	file := fileName(0, 0, "d.c")
	taken := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := &Manifest{Version: FormatVersion, ID: id, Stream: "rs0",
		Start: oplog.Timestamp{T: 1700000000, I: start}, End: oplog.Timestamp{T: 1700000000, I: start + 5},
		Taken: taken, Finished: taken.Add(time.Minute),
		Collections: []Collection{{NS: "d.c", Type: TypeCollection, Options: emptyDoc(),
			Files: []File{{Name: file, Docs: 1, RawBytes: 30, StoredBytes: int64(max(len(data), frameStart))}}}}}
	m.sumTotals()
	manifest, _, err := encodeManifest(m)
	if err != nil {
		t.Fatal(err)
	}
	if keys.Len() > 0 {
		if manifest, m.KeyID, err = sealManifest(manifest, m.Stream, m.ID, keys); err != nil {
			t.Fatal(err)
		}
		m.Encrypted = true
	}
	if _, err := st.PutSnapshotFile(ctx, m.Stream, m.ID, file, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.PutSnapshotFile(ctx, m.Stream, m.ID, ManifestName, bytes.NewReader(manifest)); err != nil {
		t.Fatal(err)
	}
	return m
}

func testStore(t *testing.T) *dirstore.Store {
	t.Helper()
	st, err := dirstore.Open(t.TempDir(), true)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func listedIDs(l Listing) (complete, unreadable []string) {
	for _, m := range l.Complete {
		complete = append(complete, m.ID)
	}
	for _, u := range l.Unreadable {
		unreadable = append(unreadable, u.ID)
	}
	return complete, unreadable
}

// A plaintext snapshot is the stream's own only if it predates the
// stream's encryption: one that starts after an encrypted snapshot, was
// taken after one, or starts where the segments are already encrypted is
// refused (forged, or written by a tailerd without its key), with keys or
// without, even where plaintext is allowed; older plaintext ones stay
// usable.
func TestListRefusesPlaintextAfterEncryption(t *testing.T) {
	ctx := context.Background()
	st := testStore(t)
	keys := crypttest.Ring(t, crypttest.Key(t, 1))
	const (
		old       = "20260101T000000Z-1700000000.0000000010" // plaintext, before encryption
		enc       = "20260102T000000Z-1700000000.0000000020" // the first encrypted one
		later     = "20260103T000000Z-1700000000.0000000250" // forged: starts after enc
		takenLate = "20260104T000000Z-1700000000.0000000005" // forged: starts early, taken after enc
		inSegs    = "20251231T000000Z-1700000000.0000000015" // forged: older than enc, where segments are encrypted
	)
	storedSnapshot(t, st, old, 10, nil, nil)
	storedSnapshot(t, st, enc, 20, keys, nil)
	storedSnapshot(t, st, later, 250, nil, nil)
	storedSnapshot(t, st, takenLate, 5, nil, nil)
	storedSnapshot(t, st, inSegs, 15, nil, nil)
	segmentsFrom := oplog.Timestamp{T: 1700000000, I: 12}

	const refusal = "after encryption began is forged, or was written by a tailerd without its key; it is not used for restores or retention. " +
		"Check where it came from, then move it out of the store"
	check := func(what string, opts ReadOptions, wantComplete []string, wantRefused []string) Listing {
		t.Helper()
		l, err := ListWith(ctx, st, "rs0", opts)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		complete, _ := listedIDs(l)
		if !slices.Equal(complete, wantComplete) {
			t.Errorf("%s: complete %v, want %v", what, complete, wantComplete)
		}
		for _, id := range wantRefused {
			i := slices.IndexFunc(l.Unreadable, func(u Unreadable) bool { return u.ID == id })
			var pe *PlaintextAfterEncryptionError
			switch {
			case i < 0:
				t.Errorf("%s: forged plaintext %s not refused: %+v", what, id, l)
			case !errors.Is(l.Unreadable[i].Err, ErrNotEncrypted) || !errors.As(l.Unreadable[i].Err, &pe) ||
				!strings.HasPrefix(l.Unreadable[i].Err.Error(), "snapshot rs0/"+id+" is not encrypted, but the stream is encrypted since ") ||
				!strings.Contains(l.Unreadable[i].Err.Error(), refusal) || strings.Contains(l.Unreadable[i].Err.Error(), "--allow-unencrypted"):
				t.Errorf("%s: %s refused with %v", what, id, l.Unreadable[i].Err)
			}
		}
		return l
	}
	forged := []string{later, takenLate, inSegs}
	check("keys, plaintext allowed", ReadOptions{Keys: keys, SegmentsEncryptedFrom: segmentsFrom}, []string{old, enc}, forged)
	l := check("keys, encryption required", ReadOptions{Keys: keys, RequireEncryption: true, SegmentsEncryptedFrom: segmentsFrom}, []string{enc}, forged)
	if i := slices.IndexFunc(l.Unreadable, func(u Unreadable) bool { return u.ID == old }); i < 0 ||
		!strings.Contains(l.Unreadable[i].Err.Error(), "is not encrypted but encryption is required: if it predates encryption pass --allow-unencrypted") {
		t.Errorf("the older plaintext snapshot with encryption required: %+v", l.Unreadable)
	}
	// Without keys the envelope still shows where encryption began.
	l = check("no keys", ReadOptions{SegmentsEncryptedFrom: segmentsFrom}, []string{old}, forged)
	if i := slices.IndexFunc(l.Unreadable, func(u Unreadable) bool { return u.ID == enc }); i < 0 ||
		!errors.Is(l.Unreadable[i].Err, ErrKeyRequired) || l.Unreadable[i].Start != (oplog.Timestamp{T: 1700000000, I: 20}) {
		t.Errorf("the encrypted snapshot without keys: %+v", l.Unreadable)
	}
	// Without the segments' bound, the one that only they expose passes.
	check("keys, segments unknown", ReadOptions{Keys: keys}, []string{old, inSegs, enc}, []string{later, takenLate})
}

// A stream whose snapshots are all plaintext (encryption never began, or
// began with the segments only) keeps every snapshot before the first
// encrypted segment.
func TestListPlaintextBeforeEncryptedSegments(t *testing.T) {
	st := testStore(t)
	a := storedSnapshot(t, st, "20260101T000000Z-1700000000.0000000010", 10, nil, nil)
	b := storedSnapshot(t, st, "20260102T000000Z-1700000000.0000000020", 20, nil, nil)
	l, err := ListWith(context.Background(), st, "rs0", ReadOptions{Keys: crypttest.Ring(t, crypttest.Key(t, 1)), SegmentsEncryptedFrom: oplog.Timestamp{T: 1700000000, I: 21}})
	if complete, unreadable := listedIDs(l); err != nil || !slices.Equal(complete, []string{a.ID, b.ID}) || len(unreadable) != 0 {
		t.Fatalf("complete %v, unreadable %v, err %v; want both complete", complete, unreadable, err)
	}
}

// A snapshot without a manifest was interrupted (Incomplete); one whose
// manifest fails its checksum or authentication is damaged (Damaged, its
// error naming the manifest): a cleanup may delete the first, never the
// second.
func TestListDamagedApartFromIncomplete(t *testing.T) {
	ctx := context.Background()
	st := testStore(t)
	keys := crypttest.Ring(t, crypttest.Key(t, 1))
	good := storedSnapshot(t, st, "20260101T000000Z-1700000000.0000000010", 10, keys, nil)
	tampered := storedSnapshot(t, st, "20260102T000000Z-1700000000.0000000020", 20, keys, nil)
	interrupted := "20260103T000000Z-1700000000.0000000030"
	if _, err := st.PutSnapshotFile(ctx, "rs0", interrupted, fileName(0, 0, "d.c"), bytes.NewReader(oneDocFrame(t))); err != nil {
		t.Fatal(err)
	}
	flipLastByte(t, st, tampered.ID, ManifestName)

	l, err := ListWith(ctx, st, "rs0", ReadOptions{Keys: keys, RequireEncryption: true})
	if err != nil {
		t.Fatal(err)
	}
	if complete, unreadable := listedIDs(l); !slices.Equal(complete, []string{good.ID}) || len(unreadable) != 0 ||
		!slices.Equal(l.Incomplete, []string{interrupted}) || len(l.Damaged) != 1 || l.Damaged[0].ID != tampered.ID {
		t.Fatalf("complete %v, incomplete %v, damaged %+v, unreadable %v", complete, l.Incomplete, l.Damaged, unreadable)
	}
	d := l.Damaged[0]
	var ce *CorruptError
	if !errors.As(d.Err, &ce) || ce.File != ManifestName || !strings.Contains(d.Err.Error(), "authentication failed") ||
		d.Start != tampered.Start {
		t.Fatalf("damaged manifest: %v (start %s)", d.Err, d.Start)
	}
}

func flipLastByte(t *testing.T, st *dirstore.Store, id, file string) {
	t.Helper()
	ctx := context.Background()
	rc, err := st.OpenSnapshotFile(ctx, "rs0", id, file)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := b.ReadFrom(rc); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	data := b.Bytes()
	data[len(data)-5] ^= 1 // inside the last GCM tag of an envelope
	if _, err := st.PutSnapshotFile(ctx, "rs0", id, file, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
}

// A data file of an encrypted snapshot that is not an envelope (its first
// bytes damaged, cut below the envelope's magic, or a plaintext file put
// in its place) is corruption naming the file, never a plaintext file
// that --allow-unencrypted would let through.
func TestEncryptedSnapshotDataFileNotEnvelope(t *testing.T) {
	ctx := context.Background()
	keys := crypttest.Ring(t, crypttest.Key(t, 1))
	for what, data := range map[string][]byte{
		"first bytes damaged": []byte("XIDECRY\x00\x01\x00\x01\x00 and the rest of a header"),
		"cut below 8 bytes":   []byte("TIDECR"),
		"empty":               {},
		"plaintext lz4 frame": oneDocFrame(t),
	} {
		t.Run(what, func(t *testing.T) {
			st := testStore(t)
			m := storedSnapshot(t, st, "20260101T000000Z-1700000000.0000000010", 10, keys, data)
			for _, require := range []bool{false, true} {
				got, err := ReadManifestWith(ctx, st, "rs0", m.ID, ReadOptions{Keys: keys, RequireEncryption: require})
				if err != nil {
					t.Fatal(err)
				}
				err = Verify(ctx, st, got)
				file := m.Collections[0].Files[0].Name
				checkCorrupt(t, "Verify", err, file)
				if errors.Is(err, ErrNotEncrypted) || strings.Contains(fmtErr(err), "--allow-unencrypted") ||
					!strings.Contains(fmtErr(err), "snapshot rs0/"+m.ID+`: file "`+file+`" is corrupt: not an encrypted envelope, but the snapshot is encrypted: damaged or forged`) {
					t.Fatalf("Verify (encryption required %v): %v", require, err)
				}
			}
		})
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestIDStart(t *testing.T) {
	for id, want := range map[string]oplog.Timestamp{
		"20261121T184700Z-1700000000.0000000005":        {T: 1700000000, I: 5},
		"20261121T184700Z-1700000000.0000000005-2":      {T: 1700000000, I: 5},
		NewID(time.Now(), oplog.Timestamp{T: 42, I: 7}): {T: 42, I: 7},
	} {
		if got, ok := IDStart(id); !ok || got != want {
			t.Errorf("IDStart(%q) = %s, %v; want %s", id, got, ok, want)
		}
	}
	for _, id := range []string{"", "manual", "20261121T184700Z-1700000000", "2026112XT184700Z-1700000000.0000000005", "20261121T184700Z-1700000000x0000000005"} {
		if got, ok := IDStart(id); ok {
			t.Errorf("IDStart(%q) = %s, want none", id, got)
		}
	}
}
