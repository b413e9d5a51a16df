package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/internal/workload"
	"github.com/tidelog/tidelog/oplog"
)

type snapListing struct {
	Streams []struct {
		Snapshots []struct {
			ID, Start, End string
		} `json:"snapshots"`
		Incomplete []string `json:"incomplete_snapshots"`
		Windows    []struct {
			From, To, Base string
		} `json:"restorable_windows"`
		Segments []struct {
			Name string `json:"name"`
		} `json:"segments"`
	} `json:"streams"`
}

func listSnapshots(t *testing.T, store string) snapListing {
	t.Helper()
	code, out, errOut := replayer(t, "list", "--store", store, "--json")
	if code != 0 {
		t.Fatalf("list: exit %d\n%s%s", code, out, errOut)
	}
	var l snapListing
	must(t, json.Unmarshal([]byte(out), &l))
	return l
}

// A backup cycle end to end: tailerd takes snapshots on SIGUSR1 while a
// writer keeps writing, keeps the newest two and prunes the segments the
// older one needed. Afterwards every recorded position that list calls
// restorable restores, from a snapshot, to exactly the source's documents at
// that position; positions before the oldest kept snapshot are refused with
// the windows listed; and a restore to a snapshot's own end equals the
// restore of the same position from the snapshot before it.
func TestSnapshotCycleRestoreAndRetention(t *testing.T) {
	ctx := context.Background()
	src := testserver.StartT(t, testserver.Options{})
	client, err := src.Client()
	must(t, err)
	defer client.Disconnect(ctx)

	work := t.TempDir()
	store := filepath.Join(work, "store")
	logPath := filepath.Join(work, "tailerd.log")
	d := startTailerd(t, logPath, "--source", src.URI, "--store", store, "--cut-age", "300ms", "--cut-bytes", "65536",
		"--keep-snapshots", "2", "--prune", "--snapshot-workers", "3")

	w := workload.New(client, 7)
	var points []recorded
	record := func() {
		ts, err := src.LastTS(ctx, client)
		must(t, err)
		points = append(points, recorded{ts: oplog.Timestamp{T: ts.T, I: ts.I}, state: mustDump(t, client)})
	}
	// snapshotDuringWrites signals tailerd and keeps writing until the
	// snapshot is listed as complete, so the copy runs beside writes.
	snapshotDuringWrites := func(n int) {
		t.Helper()
		d.snapshotNow(t)
		var wg sync.WaitGroup
		done := make(chan struct{})
		errs := make(chan error, 1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ { // bounded: about 4,000 writes at most
				select {
				case <-done:
					return
				default:
				}
				if err := w.Step(ctx, 20); err != nil {
					errs <- err
					return
				}
			}
		}()
		waitForLog(t, 120*time.Second, logPath, func() bool {
			return len(listSnapshots(t, store).Streams) == 1 && countSnapshotsTaken(logPath) >= n
		})
		close(done)
		wg.Wait()
		select {
		case err := <-errs:
			t.Fatal(err)
		default:
		}
	}

	// A unique index the snapshots must carry to every restore (names are
	// unique in the workload).
	_, err = client.Database("app").Collection("events").Indexes().CreateOne(ctx,
		mongo.IndexModel{Keys: bson.D{{Key: "name", Value: 1}}, Options: options.Index().SetUnique(true).SetName("name_unique")})
	must(t, err)
	must(t, w.Bulk(ctx, "app.events", 1000))
	must(t, w.Step(ctx, 100))
	record() // 0: before any snapshot: pruned away by the end
	snapshotDuringWrites(1)
	must(t, w.Step(ctx, 100))
	record() // 1: after snapshot 1 only: pruned away by the end
	snapshotDuringWrites(2)
	must(t, w.Step(ctx, 100))
	record() // 2: after snapshot 2, before snapshot 3
	must(t, w.Bulk(ctx, "app.events", 500))
	must(t, w.Step(ctx, 100))
	record() // 3

	// Keep a copy of the store while it still holds snapshot 1, to restore
	// snapshot 2's end from snapshot 1 as well.
	l := listSnapshots(t, store)
	snap1, snap2 := l.Streams[0].Snapshots[0], l.Streams[0].Snapshots[1]
	end2, err := oplog.Parse(snap2.End)
	must(t, err)
	waitRestorable(t, store, logPath, end2)
	before := filepath.Join(work, "before-pruning")
	copyDir(t, store, before)

	snapshotDuringWrites(3)
	must(t, w.Step(ctx, 100))
	record() // 4: after snapshot 3
	must(t, w.Step(ctx, 50))
	record() // 5
	waitRestorable(t, store, logPath, points[len(points)-1].ts)
	if code := d.stop(t); code != 0 {
		t.Fatalf("tailerd exited %d on SIGTERM\n%s", code, logTail(logPath))
	}

	l = listSnapshots(t, store)
	s := l.Streams[0]
	if len(s.Snapshots) != 2 || s.Snapshots[0].ID != snap2.ID {
		t.Fatalf("after 3 snapshots with --keep-snapshots 2: %+v, want snapshots 2 and 3", s.Snapshots)
	}
	for _, win := range s.Windows {
		if !strings.HasPrefix(win.Base, "snapshot ") {
			t.Errorf("window %+v: after pruning only snapshots can be bases", win)
		}
	}
	if code, out, errOut := replayer(t, "verify", "--store", store); code != 0 || !strings.Contains(out, "2 snapshots verified") {
		t.Errorf("verify: exit %d\n%s%s", code, out, errOut)
	}

	// The plan, without a target: the latest snapshot and the segments after it.
	code, out, errOut := replayer(t, "restore", "--store", store, "--dry-run", "--to", points[5].ts.String())
	snap3 := s.Snapshots[1]
	if code != 0 || !strings.Contains(out, "load snapshot "+snap3.ID) || !strings.Contains(out, "replay entries "+snap3.Start+"..") {
		t.Errorf("restore --dry-run: exit %d, want the plan from snapshot %s\n%s%s", code, snap3.ID, out, errOut)
	}

	// The snapshots hold no users: --include-users would restore only the
	// users changed since, so it is refused, even in a dry run.
	code, _, errOut = replayer(t, "restore", "--store", store, "--dry-run", "--include-users", "--to", points[5].ts.String())
	if code == 0 || !strings.Contains(errOut, "without users and roles") {
		t.Errorf("restore --include-users from a snapshot without users: exit %d, want a refusal\n%s", code, errOut)
	}

	restorable := func(ts oplog.Timestamp) bool {
		for _, win := range s.Windows {
			from, _ := oplog.Parse(win.From)
			to, _ := oplog.Parse(win.To)
			if !ts.Before(from) && !ts.After(to) {
				return true
			}
		}
		return false
	}
	restored := 0
	for i, p := range points {
		target := testserver.StartT(t, testserver.Options{NoOplog: true})
		code, out, errOut := replayer(t, "restore", "--store", store, "--target", target.URI, "--to", p.ts.String())
		switch {
		case !restorable(p.ts):
			if code != 3 || !strings.Contains(errOut, "outside every restorable window") || !strings.Contains(errOut, snap2.ID) {
				t.Errorf("point %d (%s) is outside the windows: exit %d, want 3 listing them\n%s%s", i, p.ts, code, out, errOut)
			}
		case code != 0:
			t.Fatalf("restore point %d (%s): exit %d\n%s%s", i, p.ts, code, out, errOut)
		default:
			restored++
			if !strings.Contains(out, "from snapshot ") {
				t.Errorf("point %d restored without a snapshot:\n%s", i, out)
			}
			tc, err := target.Client()
			must(t, err)
			if diff := workload.Diff(p.state, mustDump(t, tc)); diff != "" {
				t.Errorf("restore to point %d (%s) differs from the source then:\n%s", i, p.ts, diff)
			}
			specs, err := tc.Database("app").Collection("events").Indexes().ListSpecifications(ctx)
			must(t, err)
			unique := false
			for _, s := range specs {
				unique = unique || s.Name == "name_unique" && s.Unique != nil && *s.Unique
			}
			if !unique {
				t.Errorf("restore to point %d: the unique index name_unique is missing: %+v", i, specs)
			}
			tc.Disconnect(ctx)
		}
		target.Stop()
	}
	if restored < 4 || restorable(points[0].ts) || restorable(points[1].ts) {
		t.Errorf("%d points restorable; want points 2..5 and not 0 and 1 (pruned)", restored)
	}

	// Snapshot 2's own end: from snapshot 2, and from snapshot 1 plus more
	// replay (in the copy, without snapshot 2), agree.
	must(t, os.RemoveAll(filepath.Join(before, "streams", "rs0", "snapshots", snap2.ID)))
	viaSnap := testserver.StartT(t, testserver.Options{NoOplog: true})
	viaCapture := testserver.StartT(t, testserver.Options{NoOplog: true})
	for _, r := range []struct {
		store string
		srv   *testserver.Server
		says  string
	}{{store, viaSnap, "from snapshot " + snap2.ID}, {before, viaCapture, "from snapshot " + snap1.ID}} {
		code, out, errOut := replayer(t, "restore", "--store", r.store, "--target", r.srv.URI, "--to", snap2.End)
		if code != 0 || !strings.Contains(out, r.says) {
			t.Fatalf("restore to snapshot 2's end (%s) %s: exit %d\n%s%s", snap2.End, r.says, code, out, errOut)
		}
	}
	a, err := viaSnap.Client()
	must(t, err)
	b, err := viaCapture.Client()
	must(t, err)
	if diff := workload.Diff(mustDump(t, b), mustDump(t, a)); diff != "" {
		t.Errorf("at snapshot 2's end, the restore from snapshot 2 differs from the one from snapshot 1:\n%s", diff)
	}
	if n := mustDump(t, a).Documents(); n < 1000 {
		t.Errorf("snapshot 2's end holds %d documents: the comparison proves little", n)
	}
}

// countSnapshotsTaken counts "snapshot complete" lines in tailerd's log.
func countSnapshotsTaken(logPath string) int {
	data, _ := os.ReadFile(logPath)
	return strings.Count(string(data), "snapshot complete")
}

// copyDir copies a store that a live tailerd is writing: its temporary
// files (renamed or removed under our feet) and its checkpoint (a live
// Pebble database; restores do not read it) are left out.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	must(t, filepath.Walk(from, func(path string, info os.FileInfo, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // a temporary file renamed away since it was listed
		}
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		dst := filepath.Join(to, rel)
		switch {
		case info.IsDir() && rel == "checkpoint":
			return filepath.SkipDir
		case info.IsDir():
			return os.MkdirAll(dst, 0o755)
		case strings.HasPrefix(info.Name(), ".tmp-"):
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, data, info.Mode())
	}))
}
