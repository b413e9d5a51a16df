package kafkastore

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tidelog/tidelog/store"
)

// createTopic creates topic with n partitions, as another program would.
func createTopic(t *testing.T, s *Store, topic string, n int32) {
	t.Helper()
	if _, err := s.adm.CreateTopic(testCtx(t), n, -1, nil, topic); err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}
}

// wantNotStore checks that every way into stream fails with ErrNotStore and
// writes nothing.
func wantNotStore(t *testing.T, s *Store, stream string) {
	t.Helper()
	ctx := testCtx(t)
	before := endOffsets(t, s, stream)
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, store.ErrNotStore) || !strings.Contains(err.Error(), s.topic(stream)) {
			t.Errorf("%s = %v, want ErrNotStore naming the topic", op, err)
		}
	}
	_, err := s.Segments(ctx, stream)
	check("Segments", err)
	_, err = s.Streams(ctx)
	check("Streams", err)
	_, err = s.OpenSegment(ctx, stream, segName(1))
	check("OpenSegment", err)
	check("PutSegment", s.PutSegment(ctx, stream, segName(1), []byte("x")))
	_, err = s.PutSnapshotFile(ctx, stream, "id", "f", bytes.NewReader(nil))
	check("PutSnapshotFile", err)
	if after := endOffsets(t, s, stream); after != before {
		t.Errorf("end offsets moved from %d to %d: the store wrote into a topic that is not its own", before, after)
	}
}

// endOffsets sums the end offsets of every partition of stream's topic.
func endOffsets(t *testing.T, s *Store, stream string) int64 {
	t.Helper()
	ends, err := s.adm.ListEndOffsets(testCtx(t), s.topic(stream))
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	ends.Each(func(o kadm.ListedOffset) { sum += o.Offset })
	return sum
}

// A topic under the prefix holding records that are not tidelog frames is
// refused, not read as garbage or written into.
func TestForeignRecordsAreNotAStore(t *testing.T) {
	c := newCluster(t)
	s := openStore(t, testConfig(c))
	createTopic(t, s, s.topic("rs0"), 1)
	produceRaw(t, c, &kgo.Record{Topic: s.topic("rs0"), Value: []byte("someone else's data")})
	wantNotStore(t, s, "rs0")
}

// Frames of a newer format are refused with a hint to upgrade.
func TestNewerFormatIsRefused(t *testing.T) {
	c := newCluster(t)
	s := openStore(t, testConfig(c))
	createTopic(t, s, s.topic("rs0"), 1)
	r := frame{kind: kindSegment, name: segName(1), attempt: "a", frames: 1}.record(s.topic("rs0"), nil)
	r.Headers[0].Value = []byte("2")
	produceRaw(t, c, r)
	wantNotStore(t, s, "rs0")
	if _, err := s.Segments(testCtx(t), "rs0"); err == nil || !strings.Contains(err.Error(), "upgrade tidelog") {
		t.Fatalf("Segments = %v, want a hint to upgrade", err)
	}
}

// A topic with several partitions has no total order: it is refused.
func TestSeveralPartitionsAreNotAStore(t *testing.T) {
	c := newCluster(t)
	s := openStore(t, testConfig(c))
	createTopic(t, s, s.topic("rs0"), 3)
	wantNotStore(t, s, "rs0")
}

// Topics outside the prefix are not streams and are never read.
func TestOtherTopicsIgnored(t *testing.T) {
	c := newCluster(t)
	s := openStore(t, testConfig(c))
	for _, topic := range []string{"orders", "tidelogX.rs0", "tidelog"} {
		createTopic(t, s, topic, 1)
		produceRaw(t, c, &kgo.Record{Topic: topic, Value: []byte("x")})
	}
	if streams, err := s.Streams(testCtx(t)); err != nil || len(streams) != 0 {
		t.Fatalf("Streams = %q, %v; want none", streams, err)
	}
}
