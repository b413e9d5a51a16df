package s3store

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/tidelog/tidelog/internal/testserver"
)

// Objects larger than a part are multipart uploads (their ETag ends in
// "-<parts>"), objects up to a part are one PUT, a reader of unknown length
// is read once, and no incomplete upload is left behind.
func TestMultipart(t *testing.T) {
	m := testserver.StartMinIOT(t, testserver.MinIOOptions{})
	ctx := context.Background()
	bucket := newBucket(t, m)
	s := openStore(t, config(m, bucket))
	raw := rawClient(t, m)
	big := bytes.Repeat([]byte("0123456789abcdef"), (2*MinPartSize+3)/16+1)[:2*MinPartSize+3]

	for _, tc := range []struct {
		name  string
		size  int
		parts string // ETag suffix: "" for one PUT
		seg   bool
	}{
		{"SegmentOnePart", MinPartSize, "", true},
		{"SegmentThreeParts", 2*MinPartSize + 3, "-3", true},
		{"FileEmpty", 0, "", false},
		{"FileExactlyOnePart", MinPartSize, "", false},
		{"FileOnePartAndAByte", MinPartSize + 1, "-2", false},
		{"FileThreeParts", 2*MinPartSize + 3, "-3", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := big[:tc.size]
			var key string
			if tc.seg {
				if err := s.PutSegment(ctx, "rs0", seg1, data); err != nil {
					t.Fatal(err)
				}
				key = "streams/rs0/segments/" + seg1
			} else {
				// Small reads from a reader that cannot seek: the upload must
				// gather parts itself and read the stream exactly once.
				r := iotest.HalfReader(bytes.NewReader(data))
				n, err := s.PutSnapshotFile(ctx, "rs0", "snap", tc.name, r)
				if err != nil || n != int64(tc.size) {
					t.Fatalf("PutSnapshotFile = %d, %v; want %d", n, err, tc.size)
				}
				key = "streams/rs0/snapshots/snap/" + tc.name
			}
			info, err := raw.StatObject(ctx, bucket, key, minio.StatObjectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			suffix := ""
			if i := strings.LastIndex(info.ETag, "-"); i >= 0 {
				suffix = info.ETag[i:]
			}
			if suffix != tc.parts {
				t.Fatalf("ETag %s: want the suffix of %q parts", info.ETag, tc.parts)
			}
			var rc io.ReadCloser
			if tc.seg {
				rc, err = s.OpenSegment(ctx, "rs0", seg1)
			} else {
				rc, err = s.OpenSnapshotFile(ctx, "rs0", "snap", tc.name)
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read back %d bytes (%v), differ from the %d put", len(got), err, len(data))
			}
		})
	}
	for up := range raw.ListIncompleteUploads(ctx, bucket, "", true) {
		if up.Err != nil {
			t.Fatal(up.Err)
		}
		t.Errorf("incomplete upload left: %s", up.Key)
	}
}

// A failing reader fails the put, stores nothing, and aborts the upload.
func TestMultipartReaderFails(t *testing.T) {
	m := testserver.StartMinIOT(t, testserver.MinIOOptions{})
	ctx := context.Background()
	bucket := newBucket(t, m)
	s := openStore(t, config(m, bucket))
	boom := iotest.ErrReader(io.ErrClosedPipe)
	r := io.MultiReader(bytes.NewReader(make([]byte, MinPartSize+10)), boom)
	if _, err := s.PutSnapshotFile(ctx, "rs0", "snap", "f", r); err == nil || !strings.Contains(err.Error(), "read the data") {
		t.Fatalf("put from a failing reader: %v", err)
	}
	if files, err := s.SnapshotFiles(ctx, "rs0", "snap"); err != nil || len(files) != 0 {
		t.Fatalf("SnapshotFiles = %q, %v; want none", files, err)
	}
	for up := range rawClient(t, m).ListIncompleteUploads(ctx, bucket, "", true) {
		t.Errorf("incomplete upload left: %s %v", up.Key, up.Err)
	}
}

// An incomplete upload a crash left is aborted once stale; a fresh one, which
// may belong to a writer still at work, is left alone. Neither is listed.
func TestStaleUploadsAborted(t *testing.T) {
	m := testserver.StartMinIOT(t, testserver.MinIOOptions{})
	ctx := context.Background()
	bucket := newBucket(t, m)
	s := openStore(t, config(m, bucket))
	core := minio.Core{Client: rawClient(t, m)}
	if _, err := core.NewMultipartUpload(ctx, bucket, "streams/rs0/segments/"+seg1, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if segs, err := s.Segments(ctx, "rs0"); err != nil || len(segs) != 0 {
		t.Fatalf("Segments = %q, %v; an incomplete upload is listed", segs, err)
	}
	if n := s.abortStaleUploads(ctx, staleUploadAge); n != 0 {
		t.Fatalf("aborted %d fresh uploads", n)
	}
	if n := s.abortStaleUploads(ctx, -time.Minute); n != 1 {
		t.Fatalf("aborted %d stale uploads, want 1", n)
	}
	for up := range rawClient(t, m).ListIncompleteUploads(ctx, bucket, "", true) {
		t.Errorf("upload left: %s %v", up.Key, up.Err)
	}
}
