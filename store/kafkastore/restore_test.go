package kafkastore

import (
	"bytes"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/store"
)

// A new Store on the same cluster, as a restore in a fresh process opens,
// sees everything from Kafka alone: segments, gaps, snapshots, deletes.
func TestFreshStoreSeesEverything(t *testing.T) {
	c := newCluster(t)
	s := openStore(t, testConfig(c))
	ctx := testCtx(t)
	segs := map[string][]byte{segName(1): randomBytes(t, 200<<10), segName(2): randomBytes(t, 10), segName(3): nil}
	for name, data := range segs {
		if err := s.PutSegment(ctx, "rs0", name, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutSegment(ctx, "rs1", segName(9), []byte("rs1")); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSegment(ctx, "rs0", segName(2)); err != nil {
		t.Fatal(err)
	}
	delete(segs, segName(2))
	gap := store.Gap{After: oplog.Timestamp{T: 5, I: 1}, Next: oplog.Timestamp{T: 9, I: 2}, Reason: "rolled over"}
	if err := s.PutGap(ctx, "rs0", gap); err != nil {
		t.Fatal(err)
	}
	snap := randomBytes(t, 150<<10)
	if _, err := s.PutSnapshotFile(ctx, "rs0", "snap-1", "f", bytes.NewReader(snap)); err != nil {
		t.Fatal(err)
	}

	fresh := openStore(t, testConfig(c))
	streams, err := fresh.Streams(ctx)
	if err != nil || !slices.Equal(streams, []string{"rs0", "rs1"}) {
		t.Fatalf("Streams = %q, %v", streams, err)
	}
	names, err := fresh.Segments(ctx, "rs0")
	if err != nil || !slices.Equal(names, []string{segName(1), segName(3)}) {
		t.Fatalf("Segments = %q, %v", names, err)
	}
	for name, data := range segs {
		if got := readSegment(t, fresh, "rs0", name); !bytes.Equal(got, data) {
			t.Fatalf("%s reads %d bytes, want the %d put", name, len(got), len(data))
		}
	}
	gaps, err := fresh.Gaps(ctx, "rs0")
	if err != nil || len(gaps) != 1 || gaps[0].After != gap.After || gaps[0].Reason != gap.Reason {
		t.Fatalf("Gaps = %+v, %v", gaps, err)
	}
	rc, err := fresh.OpenSnapshotFile(ctx, "rs0", "snap-1", "f")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if got, err := io.ReadAll(rc); err != nil || !bytes.Equal(got, snap) {
		t.Fatalf("snapshot file reads %d bytes (%v)", len(got), err)
	}
}

// String names the brokers and prefix and nothing of the credentials.
func TestStringHasNoSecrets(t *testing.T) {
	cfg := Config{Brokers: []string{"k1:9092", "k2:9092"}, TopicPrefix: "backup"}
	if got := cfg.String(); got != "kafka:k1:9092,k2:9092/backup" || strings.Contains(got, "secret") {
		t.Fatalf("String() = %q", got)
	}
}
