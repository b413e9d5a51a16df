package snapshot

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pierrec/lz4/v4"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// snapshotPath is where the directory store keeps a snapshot file.
func snapshotPath(e *env, m *Manifest, name string) string {
	return filepath.Join(e.st.Root(), "streams", m.Stream, "snapshots", m.ID, name)
}

// Damage anywhere in a data file - header, blocks, checksums, length,
// trailing bytes, a swapped or missing file - makes Verify and Docs fail
// with ErrCorrupt naming the file, never a silent short read.
func TestCorruptDataFile(t *testing.T) {
	ctx := testCtx(t)
	e := newEnv(t)
	seq(t, ctx, e.client, "d.big", 0, 6000) // more than one 1 MiB lz4 block
	seq(t, ctx, e.client, "d.small", 0, 10)
	m, err := Take(ctx, e.client, e.st, Options{}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(ctx, e.st, m); err != nil {
		t.Fatalf("intact snapshot: %v", err)
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
	flip := func(off int) func([]byte) []byte {
		return func(b []byte) []byte { b[off] ^= 0x20; return b }
	}
	cases := []struct {
		what   string
		damage func([]byte) []byte // nil: delete the file
	}{
		{"lz4 magic", flip(1)},
		{"block checksum flag", flip(4)},
		{"first block", flip(len(orig) / 4)},
		{"middle", flip(len(orig) / 2)},
		{"last block", flip(len(orig) - 40)},
		{"content checksum", flip(len(orig) - 1)},
		{"cut short", func(b []byte) []byte { return b[:len(b)-100] }},
		{"cut to the header", func(b []byte) []byte { return b[:7] }},
		{"empty", func([]byte) []byte { return nil }},
		{"trailing garbage", func(b []byte) []byte { return append(b, "junk"...) }},
		{"a second frame", func(b []byte) []byte { return append(b, oneDocFrame(t)...) }},
		{"swapped with another file", func([]byte) []byte { return slices.Clone(smallData) }},
		{"missing", nil},
	}
	for _, c := range cases {
		t.Run(c.what, func(t *testing.T) {
			if c.damage == nil {
				if err := os.Remove(path); err != nil {
					t.Fatal(err)
				}
			} else if err := os.WriteFile(path, c.damage(slices.Clone(orig)), 0o644); err != nil {
				t.Fatal(err)
			}
			defer os.WriteFile(path, orig, 0o644)
			checkCorrupt(t, "Verify", Verify(ctx, e.st, m), name)
			var n int64
			err := Docs(ctx, e.st, m, big, func(bson.Raw) error { n++; return nil })
			checkCorrupt(t, "Docs", err, name)
			if n > big.Docs {
				t.Errorf("Docs handed out %d documents, the file has %d", n, big.Docs)
			}
		})
	}
	if err := Verify(ctx, e.st, m); err != nil {
		t.Fatalf("restored snapshot: %v", err)
	}
}

// checkCorrupt requires err to match ErrCorrupt and name file.
func checkCorrupt(t *testing.T, what string, err error, file string) {
	t.Helper()
	var ce *CorruptError
	switch {
	case err == nil:
		t.Errorf("%s: no error for damaged %s", what, file)
	case !errors.Is(err, ErrCorrupt) || !errors.As(err, &ce):
		t.Errorf("%s: %v, want ErrCorrupt", what, err)
	case ce.File != file || !strings.Contains(err.Error(), file):
		t.Errorf("%s: %v: names %q, want %q", what, err, ce.File, file)
	}
}

// oneDocFrame is a complete lz4 frame holding one document.
func oneDocFrame(t *testing.T) []byte {
	var b bytes.Buffer
	zw := lz4.NewWriter(&b)
	if err := zw.Apply(lz4Options()...); err != nil {
		t.Fatal(err)
	}
	zw.Write(mustMarshal(t, bson.D{{Key: "_id", Value: "extra"}}))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// A damaged or inconsistent manifest is refused by ReadManifest (ErrCorrupt)
// and listed as incomplete, never as complete; an intact manifest of a newer
// format version is refused as unsupported (and List fails rather than call
// a possibly good snapshot incomplete).
func TestCorruptManifest(t *testing.T) {
	ctx := testCtx(t)
	e := newEnv(t)
	seq(t, ctx, e.client, "d.c", 0, 20)
	m, err := Take(ctx, e.client, e.st, Options{}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	path := snapshotPath(e, m, ManifestName)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	reencode := func(change func(*Manifest)) func([]byte) []byte {
		return func([]byte) []byte {
			c := *m
			c.Collections = slices.Clone(m.Collections)
			change(&c)
			b, _, err := encodeManifest(&c)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	cases := []struct {
		what   string
		damage func([]byte) []byte
	}{
		{"a digit changed", func(b []byte) []byte {
			i := bytes.Index(b, []byte(`"docs": 20`))
			b[i+len(`"docs": 2`)] = '1'
			return b
		}},
		{"a file name changed", func(b []byte) []byte { return bytes.Replace(b, []byte("-p0000."), []byte("-p0001."), 1) }},
		{"cut short", func(b []byte) []byte { return b[:len(b)/2] }},
		{"checksum changed", func(b []byte) []byte { return bytes.Replace(b, []byte(`"crc32c:`), []byte(`"crc32c:0`), 1) }},
		{"not JSON", func([]byte) []byte { return []byte("\x00\x01") }},
		{"totals do not add up", reencode(func(c *Manifest) { c.Docs++ })},
		{"another snapshot's manifest", reencode(func(c *Manifest) { c.ID = "20200101T000000Z-0000000001.0000000001" })},
		{"end before start", reencode(func(c *Manifest) { c.End = c.Start.Prev() })},
	}
	for _, c := range cases {
		t.Run(c.what, func(t *testing.T) {
			if err := os.WriteFile(path, c.damage(slices.Clone(orig)), 0o644); err != nil {
				t.Fatal(err)
			}
			defer os.WriteFile(path, orig, 0o644)
			_, err := ReadManifest(ctx, e.st, m.Stream, m.ID)
			checkCorrupt(t, "ReadManifest", err, ManifestName)
			complete, incomplete, err := List(ctx, e.st, m.Stream)
			if err != nil || len(complete) != 0 || !slices.Equal(incomplete, []string{m.ID}) {
				t.Errorf("List: complete %v, incomplete %v, err %v: want only incomplete %s", manifestIDs(complete), incomplete, err, m.ID)
			}
		})
	}

	t.Run("newer version", func(t *testing.T) {
		if err := os.WriteFile(path, reencode(func(c *Manifest) { c.Version = FormatVersion + 1 })(nil), 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(path, orig, 0o644)
		if _, err := ReadManifest(ctx, e.st, m.Stream, m.ID); !errors.Is(err, ErrUnsupported) || errors.Is(err, ErrCorrupt) {
			t.Errorf("ReadManifest: %v, want ErrUnsupported", err)
		}
		if _, _, err := List(ctx, e.st, m.Stream); !errors.Is(err, ErrUnsupported) {
			t.Errorf("List: %v, want ErrUnsupported", err)
		}
	})

	got, err := ReadManifest(ctx, e.st, m.Stream, m.ID)
	if err != nil {
		t.Fatalf("restored manifest: %v", err)
	}
	if got.Checksum != m.Checksum || got.Docs != 20 {
		t.Fatalf("restored manifest: checksum %08x, %d docs; want %08x, 20", got.Checksum, got.Docs, m.Checksum)
	}
}
