package e2e

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/internal/workload"
	"github.com/tidelog/tidelog/oplog"
)

// When the oplog rolls past the checkpoint while tailerd is down, the restart
// must detect it, record the gap, say which positions it lost between, and
// exit 3 — not carry on from whatever the oplog still holds.
func TestGapIsDetectedAndReported(t *testing.T) {
	ctx := context.Background()
	src := testserver.StartT(t, testserver.Options{OplogMax: 40, CappedCleanup: time.Second, CappedCleanupPercent: 50})
	client, err := src.Client()
	must(t, err)
	defer client.Disconnect(ctx)

	work := t.TempDir()
	store := filepath.Join(work, "store")
	logPath := filepath.Join(work, "tailerd.log")
	args := []string{"--source", src.URI, "--store", store, "--cut-age", "200ms"}
	w := workload.New(client, 7)

	d := startTailerd(t, logPath, args...)
	must(t, w.Step(ctx, 20))
	captured := lastTS(t, src, client)
	waitRestorable(t, store, logPath, captured)
	if code := d.stop(t); code != 0 {
		t.Fatalf("tailerd exit %d on SIGTERM, want 0\n%s", code, logTail(logPath))
	}

	// While tailerd is down, write enough for the capped oplog to drop the
	// checkpoint's entry.
	must(t, w.Step(ctx, 150))
	var oldest oplog.Timestamp
	waitFor(t, 60*time.Second, func() bool {
		oldest = oldestTS(t, client)
		return oldest.After(captured)
	})

	d = startTailerd(t, logPath, args...)
	if code := d.wait(t, 60*time.Second); code != 3 {
		t.Fatalf("tailerd exit %d after rollover, want 3 (gap)\n%s", code, logTail(logPath))
	}
	if !d.Logged("gap in stream", "no longer holds "+captured.String()) {
		t.Errorf("the gap error should name the last durable position %s:\n%s", captured, logTail(logPath))
	}

	l := list(t, store)
	gaps := l.Streams[0].Gaps
	if len(gaps) != 1 || gaps[0].After != captured.String() {
		t.Fatalf("recorded gaps %+v, want one after %s", gaps, captured)
	}
	next, err := oplog.Parse(gaps[0].Next)
	must(t, err)
	if next.Before(oldest) || !next.After(captured) {
		t.Errorf("gap resumes at %s: want after the last durable position %s and not before the oplog's oldest entry %s", next, captured, oldest)
	}
	if code, out, _ := replayer(t, "verify", "--store", store); code != 3 || !strings.Contains(out, "gap") {
		t.Errorf("verify on a store with a gap: exit %d, want 3 with the gap reported\n%s", code, out)
	}

	// A second start without --accept-gap stops again: the gap is not forgotten.
	d = startTailerd(t, logPath, args...)
	if code := d.wait(t, 60*time.Second); code != 3 {
		t.Fatalf("second start after a gap: exit %d, want 3", code)
	}

	// The operator accepts the gap: a new chain starts, and restores cannot cross it.
	d = startTailerd(t, logPath, append(args, "--accept-gap")...)
	must(t, w.Step(ctx, 10))
	after := lastTS(t, src, client)
	waitForLog(t, 60*time.Second, logPath, func() bool { return storedThrough(t, store) >= after.Uint64() })
	if code := d.stop(t); code != 0 {
		t.Fatalf("tailerd --accept-gap exit %d, want 0\n%s", code, logTail(logPath))
	}
	target := testserver.StartT(t, testserver.Options{NoOplog: true})
	code, _, errOut := replayer(t, "restore", "--store", store, "--target", target.URI, "--to", after.String())
	if code != 3 || !strings.Contains(errOut, "base snapshot") {
		t.Errorf("restore past the gap: exit %d, want 3 explaining the window\n%s", code, errOut)
	}
	code, out, errOut := replayer(t, "restore", "--store", store, "--target", target.URI, "--to", captured.String())
	if code != 0 {
		t.Errorf("restore before the gap: exit %d\n%s%s", code, out, errOut)
	}
}

func lastTS(t *testing.T, s *testserver.Server, c *mongo.Client) oplog.Timestamp {
	t.Helper()
	ts, err := s.LastTS(context.Background(), c)
	must(t, err)
	return oplog.Timestamp{T: ts.T, I: ts.I}
}

func oldestTS(t *testing.T, c *mongo.Client) oplog.Timestamp {
	t.Helper()
	var doc bson.Raw
	err := c.Database("local").Collection("oplog.rs").FindOne(context.Background(), bson.D{},
		options.FindOne().SetSort(bson.D{{Key: "ts", Value: 1}})).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return oplog.Timestamp{}
	}
	must(t, err)
	ts, err := oplog.EntryTS(doc)
	must(t, err)
	return ts
}

// waitRestorable waits until the store's restorable window reaches ts.
func waitRestorable(t *testing.T, store, logPath string, ts oplog.Timestamp) {
	t.Helper()
	waitForLog(t, 60*time.Second, logPath, func() bool {
		l, ok := listIfThere(t, store)
		if !ok || len(l.Streams) != 1 || l.Streams[0].Restorable == nil {
			return false
		}
		to, err := oplog.Parse(l.Streams[0].Restorable.To)
		return err == nil && !to.Before(ts)
	})
}

// storedThrough is the end of the store's newest segment (T<<32|I), 0 if
// none or if tailerd has not created the store yet.
func storedThrough(t *testing.T, store string) uint64 {
	t.Helper()
	l, ok := listIfThere(t, store)
	if !ok || len(l.Streams) == 0 || len(l.Streams[0].Segments) == 0 {
		return 0
	}
	segs := l.Streams[0].Segments
	_, end, ok := strings.Cut(strings.TrimSuffix(segs[len(segs)-1].Name, ".tseg"), "-")
	if !ok {
		t.Fatalf("segment name %q", segs[len(segs)-1].Name)
	}
	ts, err := oplog.Parse(end)
	must(t, err)
	return ts.Uint64()
}
