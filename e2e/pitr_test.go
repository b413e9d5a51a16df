package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/internal/workload"
	"github.com/tidelog/tidelog/oplog"
)

type recorded struct {
	ts    oplog.Timestamp
	state workload.State
}

// The whole promise: tail a live source through two SIGKILLs, then restore
// each recorded timestamp into a fresh server and find exactly the source's
// documents as they were at that timestamp.
func TestPointInTimeRestoreSurvivesKills(t *testing.T) {
	ctx := context.Background()
	src := testserver.StartT(t, testserver.Options{})
	client, err := src.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(ctx)

	work := t.TempDir()
	store := filepath.Join(work, "store")
	logPath := filepath.Join(work, "tailerd.log")
	args := []string{"--source", src.URI, "--store", store, "--cut-age", "300ms", "--cut-bytes", "65536", "--log-level", "debug"}
	d := startTailerd(t, logPath, args...)

	w := workload.New(client, 42)
	var points []recorded
	record := func() {
		ts, err := src.LastTS(ctx, client)
		if err != nil {
			t.Fatal(err)
		}
		points = append(points, recorded{ts: oplog.Timestamp{T: ts.T, I: ts.I}, state: mustDump(t, client)})
	}
	for phase := 0; phase < 7; phase++ {
		must(t, w.Step(ctx, 150))
		if phase == 3 {
			must(t, w.Bulk(ctx, "app.events", 1500))
		}
		record()
		switch phase {
		case 1, 4: // kill mid-stream, writes keep coming while it is down
			d.kill()
			must(t, w.Step(ctx, 40))
			d = startTailerd(t, logPath, args...)
		case 2:
			// Kill as soon as a new segment lands, to crash near a commit.
			waitFor(t, 30*time.Second, func() bool { l, _ := listIfThere(t, store); return len(l.Streams) > 0 })
			d.kill()
			d = startTailerd(t, logPath, args...)
		}
	}
	last := points[len(points)-1].ts
	waitRestorable(t, store, logPath, last)
	if code := d.stop(t); code != 0 {
		t.Fatalf("tailerd exited %d on SIGTERM, want 0\n%s", code, logTail(logPath))
	}
	if code, out, errOut := replayer(t, "verify", "--store", store); code != 0 {
		t.Fatalf("replayer verify: exit %d\n%s%s", code, out, errOut)
	}
	l := list(t, store)
	if n := len(l.Streams[0].Segments); n < 5 {
		t.Errorf("only %d segments: the test should span many cuts", n)
	}
	if len(l.Streams[0].Gaps) != 0 {
		t.Errorf("gaps recorded in a run without rollover: %+v", l.Streams[0].Gaps)
	}

	for i, p := range points {
		target := testserver.StartT(t, testserver.Options{NoOplog: true})
		code, out, errOut := replayer(t, "restore", "--store", store, "--target", target.URI, "--to", p.ts.String())
		if code != 0 {
			t.Fatalf("restore to %s: exit %d\n%s%s", p.ts, code, out, errOut)
		}
		tc, err := target.Client()
		if err != nil {
			t.Fatal(err)
		}
		if d := workload.Diff(p.state, mustDump(t, tc)); d != "" {
			t.Errorf("restore to point %d (%s) differs from the source at that time:\n%s", i, p.ts, d)
		}
		if i == len(points)-1 {
			// A second restore into the now non-empty target must refuse without --drop.
			code, _, errOut := replayer(t, "restore", "--store", store, "--target", target.URI, "--to", p.ts.String())
			if code != 6 || !strings.Contains(errOut, "--drop") {
				t.Errorf("restore into an occupied target: exit %d, want 6 with advice about --drop\n%s", code, errOut)
			}
			code, out, errOut = replayer(t, "restore", "--store", store, "--target", target.URI, "--to", points[0].ts.String(), "--drop")
			if code != 0 {
				t.Fatalf("restore --drop: exit %d\n%s%s", code, out, errOut)
			}
			if d := workload.Diff(points[0].state, mustDump(t, tc)); d != "" {
				t.Errorf("restore --drop to point 0 differs:\n%s", d)
			}
		}
		tc.Disconnect(ctx)
		target.Stop()
	}
}

// waitFor polls cond until it holds or limit passes (then fails the test).
func waitFor(t *testing.T, limit time.Duration, cond func() bool) {
	t.Helper()
	waitForLog(t, limit, "", cond)
}

// waitForLog is waitFor that shows tailerd's log when it gives up.
func waitForLog(t *testing.T, limit time.Duration, logPath string, cond func() bool) {
	t.Helper()
	opsWaitFor(t, limit, logPath, "the condition", cond)
}

// opsWaitFor polls cond every 100 ms until it holds; after limit it fails
// the test, saying what it waited for, with the end of the log at logPath.
func opsWaitFor(t *testing.T, limit time.Duration, logPath, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s\n%s", limit, what, logTail(logPath))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mustDump(t *testing.T, c *mongo.Client) workload.State {
	t.Helper()
	s, err := workload.Dump(context.Background(), c)
	must(t, err)
	return s
}
