package s3store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/store"
)

func putRaw(t *testing.T, m *testserver.MinIO, bucket, key, content string) {
	t.Helper()
	_, err := rawClient(t, m).PutObject(context.Background(), bucket, key, strings.NewReader(content), int64(len(content)), minio.PutObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

func getRaw(t *testing.T, m *testserver.MinIO, bucket, key string) string {
	t.Helper()
	obj, err := rawClient(t, m).GetObject(context.Background(), bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	b, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return string(b)
}

// An empty bucket becomes a store with the marker; reopening finds it, and
// without Create an empty bucket is no store.
func TestCreateAndReopen(t *testing.T) {
	m := testserver.StartMinIOT(t, testserver.MinIOOptions{})
	ctx := context.Background()
	empty := newBucket(t, m)
	cfg := config(m, empty)
	cfg.Create = false
	_, err := Open(ctx, cfg)
	if !errors.Is(err, store.ErrNotExist) || !strings.Contains(err.Error(), "create the store first") {
		t.Fatalf("Open(empty, no create) = %v, want ErrNotExist", err)
	}
	if got := keys(t, m, empty); len(got) != 0 {
		t.Fatalf("Open without Create wrote %q", got)
	}

	s := openStore(t, config(m, empty))
	if got := strings.TrimSpace(getRaw(t, m, empty, markerName)); got != `{"format":"tidelog-store","version":1}` {
		t.Fatalf("marker = %s", got)
	}
	if want := "s3:" + m.URL() + "/" + empty + "/"; s.String() != want {
		t.Fatalf("String() = %q, want %q", s.String(), want)
	}
	if err := s.PutSegment(ctx, "rs0", seg1, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, cfg); err != nil {
		t.Fatalf("reopen without Create: %v", err)
	}

	_, err = Open(ctx, config(m, "no-such-bucket"))
	if !errors.Is(err, store.ErrNotExist) || !strings.Contains(err.Error(), "create it first") {
		t.Fatalf("Open(missing bucket) = %v, want ErrNotExist saying to create the bucket", err)
	}
}

// A bucket or prefix holding something else, or a marker this build cannot
// read, is refused with ErrNotStore, and nothing is written into it.
func TestNotAStore(t *testing.T) {
	m := testserver.StartMinIOT(t, testserver.MinIOOptions{})
	for _, tc := range []struct {
		name   string
		marker string // "" puts another object instead of a marker
	}{
		{"NoMarker", ""},
		{"MalformedMarker", "{not json"},
		{"WrongFormat", `{"format":"something-else","version":1}`},
		{"FutureVersion", `{"format":"tidelog-store","version":2}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bucket := newBucket(t, m)
			key, content := "photos/cat.jpg", "meow"
			if tc.marker != "" {
				key, content = markerName, tc.marker
			}
			putRaw(t, m, bucket, key, content)
			for _, create := range []bool{false, true} {
				cfg := config(m, bucket)
				cfg.Create = create
				_, err := Open(context.Background(), cfg)
				if !errors.Is(err, store.ErrNotStore) {
					t.Fatalf("Open(create=%v) = %v, want ErrNotStore", create, err)
				}
				if msg := err.Error(); !strings.Contains(msg, bucket) || !strings.Contains(msg, notStoreHint) {
					t.Fatalf("message does not name the bucket and the fix: %s", msg)
				}
			}
			if got := keys(t, m, bucket); !slices.Equal(got, []string{key}) {
				t.Fatalf("bucket holds %q after the refusals, want only %s", got, key)
			}
		})
	}
}

// Stores under different prefixes of one bucket do not see each other, nor
// the bucket's other objects, even under a prefix that shares their first
// letters; the bucket's root, which holds them, is not a store.
func TestPrefixIsolation(t *testing.T) {
	m := testserver.StartMinIOT(t, testserver.MinIOOptions{})
	ctx := context.Background()
	bucket := newBucket(t, m)
	putRaw(t, m, bucket, "other-app/data.csv", "a,b")
	putRaw(t, m, bucket, "tidelog-other/streams/rs0/segments/"+seg1, "not ours")

	open := func(prefix string) *Store {
		cfg := config(m, bucket)
		cfg.Prefix = prefix
		return openStore(t, cfg)
	}
	a, b := open("tidelog"), open("/tidelog-b/")
	if a.Prefix() != "tidelog/" || b.Prefix() != "tidelog-b/" {
		t.Fatalf("prefixes %q, %q", a.Prefix(), b.Prefix())
	}
	if err := a.PutSegment(ctx, "rs0", seg1, []byte("a")); err != nil {
		t.Fatal(err)
	}
	if _, err := a.PutSnapshotFile(ctx, "rs0", "snap-1", "manifest.json", strings.NewReader("{}")); err != nil {
		t.Fatal(err)
	}
	if err := b.PutGap(ctx, "rs1", store.Gap{Reason: "b only"}); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		s       *Store
		streams []string
	}{{a, []string{"rs0"}}, {b, []string{"rs1"}}} {
		got, err := tc.s.Streams(ctx)
		if err != nil || !slices.Equal(got, tc.streams) {
			t.Fatalf("%s: Streams = %q, %v; want %q", tc.s, got, err, tc.streams)
		}
	}
	if segs, err := b.Segments(ctx, "rs0"); err != nil || len(segs) != 0 {
		t.Fatalf("b sees a's segments: %q, %v", segs, err)
	}
	rc, err := a.OpenSegment(ctx, "rs0", seg1)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(data, []byte("a")) {
		t.Fatalf("a's segment reads %q, %v", data, err)
	}
	if err := a.DeleteSnapshot(ctx, "rs0", "snap-1"); err != nil {
		t.Fatal(err)
	}
	if got := getRaw(t, m, bucket, "tidelog-other/streams/rs0/segments/"+seg1); got != "not ours" {
		t.Fatalf("an object outside the prefix changed: %q", got)
	}
	if _, err := Open(ctx, config(m, bucket)); !errors.Is(err, store.ErrNotStore) {
		t.Fatalf("Open(bucket root holding stores and other data) = %v, want ErrNotStore", err)
	}
	for _, bad := range []string{"a/../b", "a//b", "./a"} {
		cfg := config(m, bucket)
		cfg.Prefix = bad
		if _, err := Open(ctx, cfg); err == nil || !strings.Contains(err.Error(), "invalid prefix") {
			t.Errorf("prefix %q: %v, want invalid prefix", bad, err)
		}
	}
}

// Objects of other shapes inside the layout are never listed.
func TestForeignObjectsNotListed(t *testing.T) {
	m := testserver.StartMinIOT(t, testserver.MinIOOptions{})
	ctx := context.Background()
	bucket := newBucket(t, m)
	s := openStore(t, config(m, bucket))
	for _, k := range []string{
		"streams/rs0/segments/.hidden.tseg", "streams/rs0/segments/notes.txt",
		"streams/rs0/segments/deeper/" + seg1, "streams/rs0/gaps/x.json",
		"streams/bad name/segments/" + seg1, "streams/rs1/README",
		"streams/rs0/snapshots/.tmp/file", "streams/rs0/snapshots/snap/.hidden",
	} {
		putRaw(t, m, bucket, k, "x")
	}
	if got, err := s.Streams(ctx); err != nil || len(got) != 0 {
		t.Fatalf("Streams = %q, %v; want none", got, err)
	}
	if got, err := s.Segments(ctx, "rs0"); err != nil || len(got) != 0 {
		t.Fatalf("Segments = %q, %v; want none", got, err)
	}
	if got, err := s.Gaps(ctx, "rs0"); err != nil || len(got) != 0 {
		t.Fatalf("Gaps = %v, %v; want none", got, err)
	}
	if got, err := s.SnapshotFiles(ctx, "rs0", "snap"); err != nil || len(got) != 0 {
		t.Fatalf("SnapshotFiles = %q, %v; want none", got, err)
	}
	// A gap object that does not parse is an error, never skipped.
	putRaw(t, m, bucket, "streams/rs0/gaps/1.1-2.2.gap.json", "{broken")
	if _, err := s.Gaps(ctx, "rs0"); err == nil || !strings.Contains(err.Error(), "malformed") {
		t.Fatalf("Gaps with a broken gap object: %v, want malformed", err)
	}
}
