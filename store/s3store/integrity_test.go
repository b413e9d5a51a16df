package s3store

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/store"
)

// openFaulty opens a store on a new TLS MinIO through a faultyTransport,
// which does no harm until told to.
func openFaulty(t *testing.T) (*Store, *faultyTransport) {
	m := testserver.StartMinIOT(t, testserver.MinIOOptions{TLS: true})
	faulty := newFaultyTransport(t, m)
	cfg := config(m, newBucket(t, m))
	cfg.Transport = faulty
	return openStore(t, cfg), faulty
}

// Over TLS the payload is not signed, so only the Content-MD5 protects it:
// bytes damaged after the client summed them are refused by the server,
// for one PUT and for a part alike, and nothing is stored.
func TestCorruptUploadRefused(t *testing.T) {
	ctx := context.Background()
	s, faulty := openFaulty(t)
	faulty.mu.Lock()
	faulty.flipPuts = true
	faulty.mu.Unlock()

	for _, size := range []int{1000, MinPartSize + 1000} {
		err := s.PutSegment(ctx, "rs0", seg1, make([]byte, size))
		if err == nil || !strings.Contains(err.Error(), "BadDigest") || !strings.Contains(err.Error(), "gave up after") {
			t.Fatalf("put of %d bytes damaged in transit: %v, want BadDigest after retries", size, err)
		}
		if _, err := s.OpenSegment(ctx, "rs0", seg1); !errors.Is(err, store.ErrNotExist) {
			t.Fatalf("a damaged upload of %d bytes was stored: %v", size, err)
		}
	}
}

// A read whose connection breaks part way resumes where it stopped (a ranged
// GET of the same object version) and returns every byte once.
func TestReadResumes(t *testing.T) {
	ctx := context.Background()
	s, faulty := openFaulty(t)
	data := make([]byte, 3<<20)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutSnapshotFile(ctx, "rs0", "snap", "big", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	faulty.mu.Lock()
	faulty.cutAfter = 1 << 20
	faulty.mu.Unlock()

	rc, err := s.OpenSnapshotFile(ctx, "rs0", "snap", "big")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes (%v) across a cut connection, want the %d written", len(got), err, len(data))
	}
	faulty.mu.Lock()
	defer faulty.mu.Unlock()
	if !faulty.cut || len(faulty.getRanges) != 2 || faulty.getRanges[1] != "bytes=1048576-" {
		t.Fatalf("cut %v, GET ranges %q; want a second GET from byte 1048576", faulty.cut, faulty.getRanges)
	}
}
