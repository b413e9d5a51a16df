package snapshot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pierrec/lz4/v4"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/store"
)

// fuzzStore serves one snapshot's files from memory: the only store
// method ReadManifest and Docs call is OpenSnapshotFile (any other would
// panic on the nil Store, and the fuzzer would report it).
type fuzzStore struct {
	store.Store
	files map[string][]byte
}

func (s fuzzStore) OpenSnapshotFile(_ context.Context, stream, id, name string) (io.ReadCloser, error) {
	data, ok := s.files[name]
	if !ok {
		return nil, fmt.Errorf("snapshot %s/%s file %s: %w", stream, id, name, store.ErrNotExist)
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

// manifestEnvelope wraps body as manifest.json with a checksum that holds.
func manifestEnvelope(body []byte) []byte {
	return fmt.Appendf(nil, "{%q: %q, %q: \"crc32c:%08x\", %q: %s}", "format", manifestFormat, "checksum",
		crc32.Checksum(body, castagnoli), "manifest", body)
}

// FuzzManifest feeds arbitrary bytes to ReadManifest as manifest.json of
// snapshot sampleManifest().ID of stream rs0. With fix set, data is the
// manifest's body and is wrapped in an envelope whose checksum holds, so
// that mutations reach the field and consistency checks behind it.
//
// Invariants: no panic; every error is a *CorruptError naming
// manifest.json of this snapshot, or ErrUnsupported (an intact manifest of
// another version); a manifest that reads is consistent, belongs to this
// snapshot, and survives encoding and reading again unchanged.
func FuzzManifest(f *testing.F) {
	m := sampleManifest(f)
	data, _, err := encodeManifest(m)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data, false)
	body, err := extractManifestBody(data)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(body, true)
	f.Add([]byte(`{"version": 1}`), true)
	f.Add([]byte(`{"version": 2, "id": "x"}`), true)
	f.Add([]byte(`[]`), true)
	f.Add(data[:len(data)/2], false)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, data []byte, fix bool) {
		if fix {
			data = manifestEnvelope(data)
		}
		st := fuzzStore{files: map[string][]byte{ManifestName: data}}
		got, err := ReadManifest(ctx, st, m.Stream, m.ID)
		if err != nil {
			checkManifestErr(t, err, m)
			return
		}
		if got.Stream != m.Stream || got.ID != m.ID || got.Version != FormatVersion {
			t.Fatalf("manifest of %s/%s v%d read as %s/%s", got.Stream, got.ID, got.Version, m.Stream, m.ID)
		}
		if err := got.validate(m.Stream, m.ID); err != nil {
			t.Fatalf("inconsistent manifest accepted: %v", err)
		}
		again, sum, err := encodeManifest(got)
		if err != nil {
			t.Fatalf("manifest read, but not written again: %v", err)
		}
		st.files[ManifestName] = again
		back, err := ReadManifest(ctx, st, m.Stream, m.ID)
		if err != nil {
			t.Fatalf("manifest written again does not read: %v\n%s", err, again)
		}
		want := *got
		want.Checksum = sum
		if !sameManifest(back, &want) {
			t.Fatalf("round trip differs:\n got %+v\nwant %+v", back, &want)
		}
	})
}

// extractManifestBody returns the bytes of the "manifest" value of an
// encoded manifest.json.
func extractManifestBody(data []byte) ([]byte, error) {
	const key = `"manifest": `
	i := bytes.Index(data, []byte(key))
	if i < 0 || !bytes.HasSuffix(data, []byte("\n}\n")) {
		return nil, errors.New("manifest.json layout changed")
	}
	return data[i+len(key) : len(data)-len("\n}\n")], nil
}

func checkManifestErr(t *testing.T, err error, m *Manifest) {
	t.Helper()
	if errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrCorrupt) {
		return
	}
	var ce *CorruptError
	if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("error is neither a *CorruptError nor ErrUnsupported: %v", err)
	}
	if ce.File != ManifestName || ce.Stream != m.Stream || ce.ID != m.ID ||
		!strings.Contains(err.Error(), ManifestName) || !strings.Contains(err.Error(), m.ID) {
		t.Fatalf("error does not name %s of snapshot %s/%s: %v", ManifestName, m.Stream, m.ID, err)
	}
}

// sameManifest compares manifests, times by instant: JSON keeps the
// instant, not the zone it was written in.
func sameManifest(a, b *Manifest) bool {
	x, y := *a, *b
	if !x.Taken.Equal(y.Taken) || !x.Finished.Equal(y.Finished) {
		return false
	}
	x.Taken, x.Finished, y.Taken, y.Finished = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return reflect.DeepEqual(x, y)
}

// fuzzDataFile is an lz4 data file of the given documents, as Take writes
// it, and its manifest entry.
func fuzzDataFile(t testing.TB, name string, docs []bson.Raw) ([]byte, File) {
	var b bytes.Buffer
	zw := lz4.NewWriter(&b)
	if err := zw.Apply(lz4Options()...); err != nil {
		t.Fatal(err)
	}
	var raw int64
	for _, d := range docs {
		if _, err := zw.Write(d); err != nil {
			t.Fatal(err)
		}
		raw += int64(len(d))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	data := b.Bytes()
	return data, File{Name: name, Docs: int64(len(docs)), RawBytes: raw, StoredBytes: int64(len(data)),
		CRC32C: crc32.Checksum(data, castagnoli)}
}

// FuzzDataFile feeds arbitrary bytes to Docs as a data file whose
// manifest entry claims docs documents of raw bytes. With fix set, the
// entry's stored size and CRC-32C are those of data, so that mutations
// reach the lz4 frame and document checks behind them.
//
// Invariants: no panic; every error is a *CorruptError naming the file;
// no document handed out is invalid BSON or overruns the raw bytes the
// manifest claims (what bounds allocation); a file that reads holds
// exactly the documents and bytes the manifest says.
func FuzzDataFile(f *testing.F) {
	name := fileName(0, 0, "d.c")
	var docs []bson.Raw
	for i := range 300 {
		docs = append(docs, mustMarshal(f, bson.D{{Key: "_id", Value: int32(i)}, {Key: "s", Value: strings.Repeat("x", i%40)},
			{Key: "n", Value: bson.D{{Key: "a", Value: bson.A{1.5, "b", true}}}}}))
	}
	for _, n := range []int{0, 1, 300} {
		data, fe := fuzzDataFile(f, name, docs[:n])
		f.Add(data, fe.Docs, fe.RawBytes, false)
		f.Add(data, fe.Docs, fe.RawBytes, true)
	}
	f.Add([]byte{0x04, 0x22, 0x4d, 0x18, 0x40, 0x40}, int64(0), int64(0), true)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, data []byte, ndocs, raw int64, fix bool) {
		fe := File{Name: name, Docs: ndocs, RawBytes: raw, StoredBytes: int64(len(data)) + 1}
		if fix {
			fe.StoredBytes, fe.CRC32C = int64(len(data)), crc32.Checksum(data, castagnoli)
		}
		m := &Manifest{Stream: "rs0", ID: "20261121T184700Z-1700000000.0000000005"}
		c := Collection{NS: "d.c", Type: TypeCollection, Files: []File{fe}}
		st := fuzzStore{files: map[string][]byte{name: data}}
		var got, gotRaw int64
		err := Docs(ctx, st, m, c, func(doc bson.Raw) error {
			if err := doc.Validate(); err != nil {
				t.Fatalf("document %d handed out is not valid BSON: %v", got+1, err)
			}
			gotRaw += int64(len(doc))
			got++
			if gotRaw > raw {
				t.Fatalf("documents handed out overrun the %d raw bytes the manifest claims", raw)
			}
			return nil
		})
		if err != nil {
			var ce *CorruptError
			if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) || ce.File != name || !strings.Contains(err.Error(), name) {
				t.Fatalf("error is not a *CorruptError naming %s: %v", name, err)
			}
			return
		}
		if !fix || got != ndocs || gotRaw != raw {
			t.Fatalf("file read without error: %d docs, %d raw bytes (fix %t); the manifest says %d, %d", got, gotRaw, fix, ndocs, raw)
		}
	})
}
