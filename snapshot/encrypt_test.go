package snapshot

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/crypt"
	"github.com/tidelog/tidelog/crypt/crypttest"
)

// An encrypted snapshot: nothing of the manifest or the documents is in
// the clear, it reads back whole with the key, and without it every reader
// says which key it needs instead of calling it incomplete.
func TestEncryptedSnapshot(t *testing.T) {
	ctx := testCtx(t)
	e := newEnv(t)
	seq(t, ctx, e.client, "d.big", 0, 6000) // several 64 KiB chunks
	seq(t, ctx, e.client, "d.small", 0, 10)
	if err := e.client.Database("d").CreateCollection(ctx, "empty"); err != nil {
		t.Fatal(err)
	}
	a, b := crypttest.Key(t, 1), crypttest.Key(t, 2)
	m, err := Take(ctx, e.client, e.st, Options{Keys: crypttest.Ring(t, a), SplitDocs: 2500}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	if !m.Encrypted || m.KeyID != a.ID() {
		t.Fatalf("manifest: encrypted %v with %s, want %s", m.Encrypted, m.KeyID, a.ID())
	}
	// Stored bytes: envelopes only, no namespace, document or manifest field.
	names, err := e.st.SnapshotFiles(ctx, m.Stream, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	big, _ := m.Collection("d.big")
	if len(names) != m.Files+1 || len(big.Files) < 2 {
		t.Fatalf("%d files stored, manifest lists %d; d.big has %d", len(names), m.Files, len(big.Files))
	}
	for _, name := range names {
		data, err := os.ReadFile(snapshotPath(e, m, name))
		if err != nil {
			t.Fatal(err)
		}
		if !crypt.IsEnvelope(data) {
			t.Fatalf("%s is not encrypted", name)
		}
		for _, clear := range []string{"item-0000", "tidelog-snapshot", "\"ns\"", "d.small", "_id_", "collections"} {
			if bytes.Contains(data, []byte(clear)) && !strings.Contains(name, clear) {
				t.Fatalf("%s holds %q in the clear", name, clear)
			}
		}
	}
	// Read back with the key the Manifest remembers.
	if err := Verify(ctx, e.st, m); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"d.big", "d.small", "d.empty"} {
		if got, want := snapDocs(t, ctx, e, m, ns), sourceDocs(t, ctx, e.client, ns); len(got) != len(want) {
			t.Fatalf("%s: %d documents, source has %d", ns, len(got), len(want))
		}
	}

	// Without the key.
	_, err = ReadManifest(ctx, e.st, m.Stream, m.ID)
	want := "snapshot " + m.Stream + "/" + m.ID + " file manifest.json is encrypted with key " + a.ID().String() + ": give the key ("
	if !errors.Is(err, ErrKeyRequired) || errors.Is(err, ErrCorrupt) || errors.Is(err, ErrIncomplete) || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("ReadManifest without the key: %v", err)
	}
	if c, inc, err := List(ctx, e.st, m.Stream); !errors.Is(err, ErrKeyRequired) || c != nil || inc != nil {
		t.Fatalf("List without the key: %v, %v, %v; want ErrKeyRequired", c, inc, err)
	}
	l, err := ListWith(ctx, e.st, m.Stream, ReadOptions{})
	if err != nil || len(l.Complete)+len(l.Incomplete) != 0 || len(l.Unreadable) != 1 || l.Unreadable[0].ID != m.ID ||
		!errors.Is(l.Unreadable[0].Err, ErrKeyRequired) {
		t.Fatalf("ListWith without keys: %+v, %v", l, err)
	}

	// With the key: the same manifest as Take returned.
	l, err = ListWith(ctx, e.st, m.Stream, ReadOptions{Keys: crypttest.Ring(t, a)})
	if err != nil || len(l.Complete) != 1 || len(l.Unreadable)+len(l.Incomplete) != 0 {
		t.Fatalf("ListWith: %+v, %v", l, err)
	}
	got := l.Complete[0]
	got.read, m.read = ReadOptions{}, ReadOptions{}
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("listed manifest differs from Take's:\n%+v\n%+v", got, m)
	}

	// Rotation: [b, a] reads the old snapshot and writes new ones with b.
	rotated := crypttest.Ring(t, b, a)
	m2, err := Take(ctx, e.client, e.st, Options{Keys: rotated}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	if m2.KeyID != b.ID() {
		t.Fatalf("new snapshot with key %s, want %s", m2.KeyID, b.ID())
	}
	l, err = ListWith(ctx, e.st, m.Stream, ReadOptions{Keys: rotated, RequireEncryption: true})
	if err != nil || len(l.Complete) != 2 {
		t.Fatalf("ListWith rotated: %+v, %v", l, err)
	}
	for _, lm := range l.Complete {
		if err := Verify(ctx, e.st, lm); err != nil {
			t.Fatal(err)
		}
	}
	// Only the new key: the old snapshot names the key it needs.
	l, err = ListWith(ctx, e.st, m.Stream, ReadOptions{Keys: crypttest.Ring(t, b)})
	if err != nil || len(l.Complete) != 1 || len(l.Unreadable) != 1 || l.Unreadable[0].ID != m.ID {
		t.Fatalf("ListWith new key only: %+v, %v", l, err)
	}
	werr := l.Unreadable[0].Err
	if !errors.Is(werr, ErrWrongKey) || !strings.Contains(werr.Error(), a.ID().String()) || !strings.Contains(werr.Error(), b.ID().String()) ||
		!strings.Contains(werr.Error(), m.ID) {
		t.Fatalf("wrong key: %v", werr)
	}
	crypttest.NoKeyMaterial(t, werr.Error(), a, b)

	// A plaintext snapshot taken after encrypted ones (by a tailerd
	// without its key, or forged) is refused, whether or not plaintext is
	// allowed (TestListRefusesPlaintextAfterEncryption has the older
	// plaintext snapshots that stay readable).
	m3, err := Take(ctx, e.client, e.st, Options{}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, require := range []bool{true, false} {
		l, err = ListWith(ctx, e.st, m.Stream, ReadOptions{Keys: rotated, RequireEncryption: require})
		if err != nil || len(l.Complete) != 2 || len(l.Unreadable) != 1 || l.Unreadable[0].ID != m3.ID ||
			!errors.Is(l.Unreadable[0].Err, ErrNotEncrypted) ||
			!strings.Contains(l.Unreadable[0].Err.Error(), "after encryption began is forged, or was written by a tailerd without its key") {
			t.Fatalf("plaintext snapshot after encrypted ones, encryption required %v: %+v, %v", require, l, err)
		}
	}
}

// Damage to an encrypted snapshot is caught by authentication and named;
// files moved between snapshots or names are rejected naming both; a
// forged plaintext file in an encrypted snapshot is refused.
func TestEncryptedSnapshotDamage(t *testing.T) {
	ctx := testCtx(t)
	e := newEnv(t)
	seq(t, ctx, e.client, "d.big", 0, 6000)
	seq(t, ctx, e.client, "d.small", 0, 10)
	kr := crypttest.Ring(t, crypttest.Key(t, 1))
	m, err := Take(ctx, e.client, e.st, Options{Keys: kr}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	m2, err := Take(ctx, e.client, e.st, Options{Keys: kr}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	big, _ := m.Collection("d.big")
	small, _ := m.Collection("d.small")
	name := big.Files[0].Name
	path := snapshotPath(e, m, name)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	smallData, err := os.ReadFile(snapshotPath(e, m, small.Files[0].Name))
	if err != nil {
		t.Fatal(err)
	}
	sameName, err := os.ReadFile(snapshotPath(e, m2, name)) // the same file of the other snapshot
	if err != nil {
		t.Fatal(err)
	}
	hdr := 50 + len(objectContext(m.Stream, m.ID, name))
	full := crypt.DefaultChunkSize + crypt.TagSize
	if len(orig) < hdr+2*full {
		t.Fatalf("data file of %d bytes: want several chunks", len(orig))
	}
	flip := func(off int) func([]byte) []byte {
		return func(b []byte) []byte { b[off] ^= 0x20; return b }
	}
	cases := []struct {
		what   string
		damage func([]byte) []byte
		reason string
	}{
		{"header", flip(30), "envelope header checksum mismatch"},
		{"first chunk", flip(hdr + 100), "chunk 0: tampered or damaged: authentication failed"},
		{"second chunk", flip(hdr + full + 5), "chunk 1: tampered or damaged: authentication failed"},
		{"last tag", flip(len(orig) - 1), "authentication failed"},
		{"cut at a chunk boundary", func(b []byte) []byte { return b[:hdr+full] }, "without a final chunk"},
		{"cut inside a chunk", func(b []byte) []byte { return b[:hdr+full+100] }, "authentication failed"},
		{"chunks swapped", func(b []byte) []byte {
			c := slices.Clone(b)
			copy(c[hdr:hdr+full], b[hdr+full:hdr+2*full])
			copy(c[hdr+full:hdr+2*full], b[hdr:hdr+full])
			return c
		}, "chunk 0: tampered or damaged"},
		{"appended", func(b []byte) []byte { return append(b, 1) }, "authentication failed"},
		{"another file of the snapshot", func([]byte) []byte { return slices.Clone(smallData) }, "swapped or renamed"},
		{"this file of another snapshot", func([]byte) []byte { return slices.Clone(sameName) }, m2.ID},
		{"forged plaintext", func([]byte) []byte { return oneDocFrame(t) }, "not an encrypted envelope, but the snapshot is encrypted: damaged or forged"},
	}
	for _, c := range cases {
		t.Run(c.what, func(t *testing.T) {
			if err := os.WriteFile(path, c.damage(slices.Clone(orig)), 0o644); err != nil {
				t.Fatal(err)
			}
			defer os.WriteFile(path, orig, 0o644)
			err := Verify(ctx, e.st, m)
			checkCorrupt(t, "Verify", err, name)
			if err == nil || !strings.Contains(err.Error(), c.reason) {
				t.Fatalf("Verify: %v, want %q", err, c.reason)
			}
			var n int64
			err = Docs(ctx, e.st, m, big, func(bson.Raw) error { n++; return nil })
			if err == nil || n > big.Docs {
				t.Fatalf("Docs: %v after %d documents", err, n)
			}
		})
	}
	if err := Verify(ctx, e.st, m); err != nil {
		t.Fatalf("restored snapshot: %v", err)
	}

	// The manifest: damaged (listed as Damaged, never as incomplete), or
	// another snapshot's (rejected naming both).
	mpath := snapshotPath(e, m, ManifestName)
	morig, err := os.ReadFile(mpath)
	if err != nil {
		t.Fatal(err)
	}
	other, err := os.ReadFile(snapshotPath(e, m2, ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	for what, bad := range map[string][]byte{
		"flipped":  append(slices.Clone(morig[:len(morig)-20]), morig[len(morig)-20]^1),
		"swapped":  other,
		"cut":      morig[:len(morig)-1],
		"appended": append(slices.Clone(morig), 0),
	} {
		if err := os.WriteFile(mpath, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := ReadManifestWith(ctx, e.st, m.Stream, m.ID, ReadOptions{Keys: kr})
		checkCorrupt(t, "manifest "+what, err, ManifestName)
		if what == "swapped" && (!strings.Contains(err.Error(), m2.ID) || !strings.Contains(err.Error(), m.ID)) {
			t.Fatalf("swapped manifest: %v", err)
		}
		l, err := ListWith(ctx, e.st, m.Stream, ReadOptions{Keys: kr})
		if err != nil || len(l.Damaged) != 1 || l.Damaged[0].ID != m.ID || !errors.Is(l.Damaged[0].Err, ErrCorrupt) || slices.Contains(l.Incomplete, m.ID) {
			t.Fatalf("manifest %s: listed %+v, %v", what, l, err)
		}
	}
	if err := os.WriteFile(mpath, morig, 0o644); err != nil {
		t.Fatal(err)
	}
}
