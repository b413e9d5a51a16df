package kafkastore

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// A segment of several MiB goes out as many frames, none above the broker's
// limit, and comes back byte-exact.
func TestLargeSegmentIsFramed(t *testing.T) {
	s := openStore(t, testConfig(newCluster(t)))
	ctx := testCtx(t)
	data := randomBytes(t, 5<<20)
	if err := s.PutSegment(ctx, "rs0", segName(1), data); err != nil {
		t.Fatal(err)
	}
	payload, err := s.payloadBytes(kindSegment, segName(1))
	if err != nil {
		t.Fatal(err)
	}
	want := int64((len(data) + payload - 1) / payload)
	if got := recordCount(t, s, "rs0"); got != want || got < 80 {
		t.Fatalf("the topic holds %d records, want %d frames of at most %d bytes", got, want, payload)
	}
	if got := readSegment(t, s, "rs0", segName(1)); !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes that differ from the %d put", len(got), len(data))
	}
}

// A snapshot file of unknown length is streamed as data frames and one
// empty final frame, and read back byte-exact.
func TestSnapshotFileIsStreamed(t *testing.T) {
	s := openStore(t, testConfig(newCluster(t)))
	ctx := testCtx(t)
	data := randomBytes(t, 1<<20+123)
	// io.MultiReader hides the length and yields short reads.
	r := io.MultiReader(bytes.NewReader(data[:1000]), bytes.NewReader(data[1000:]))
	n, err := s.PutSnapshotFile(ctx, "rs0", "snap-1", "big.bson.lz4", r)
	if err != nil || n != int64(len(data)) {
		t.Fatalf("PutSnapshotFile = %d, %v; want %d", n, err, len(data))
	}
	payload, _ := s.payloadBytes(kindSnapshot, snapshotName("snap-1", "big.bson.lz4"))
	if got, want := recordCount(t, s, "rs0"), int64((len(data)+payload-1)/payload+1); got != want {
		t.Fatalf("the topic holds %d records, want %d data frames and a final one", got, want)
	}
	rc, err := s.OpenSnapshotFile(ctx, "rs0", "snap-1", "big.bson.lz4")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes (%v), want the %d put", len(got), err, len(data))
	}
}

// A store whose frames exceed what the brokers accept fails the put with
// Kafka's error and the fix, and lists nothing.
func TestFramesAboveBrokerLimitFail(t *testing.T) {
	c := newCluster(t)
	cfg := testConfig(c)
	cfg.MaxMessageBytes = 4 * brokerMaxBytes
	s := openStore(t, cfg)
	ctx := testCtx(t)
	err := s.PutSegment(ctx, "rs0", segName(1), randomBytes(t, 1<<20))
	if !errors.Is(err, kerr.MessageTooLarge) || !strings.Contains(err.Error(), "MaxMessageBytes") {
		t.Fatalf("PutSegment with frames above the broker's limit = %v, want MESSAGE_TOO_LARGE and the fix", err)
	}
	names, err := s.Segments(ctx, "rs0")
	if err != nil || len(names) != 0 {
		t.Fatalf("Segments = %q, %v; want none", names, err)
	}
}
