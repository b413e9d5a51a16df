package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/internal/testserver"
)

// A tailerd killed (SIGKILL) in the middle of a snapshot leaves files but
// no manifest: list reports the snapshot as incomplete and never as a
// base, a restore plan does not use it, and the restarted daemon deletes
// it before taking the next one, which completes.
func TestSnapshotKilledMidCopy(t *testing.T) {
	ctx := context.Background()
	src := testserver.StartT(t, testserver.Options{})
	client, err := src.Client()
	must(t, err)
	defer client.Disconnect(ctx)
	// Ten collections copied one at a time: the copy takes seconds, and
	// files appear one by one, so the kill lands between them.
	for c := 0; c < 10; c++ {
		docs := make([]any, 2000)
		for i := range docs {
			docs[i] = bson.D{{Key: "_id", Value: i}, {Key: "pad", Value: strings.Repeat("x", 200)}}
		}
		coll := client.Database("big").Collection(fmt.Sprintf("c%d", c))
		for i := 0; i < len(docs); i += 500 {
			_, err := coll.InsertMany(ctx, docs[i:i+500])
			must(t, err)
		}
	}
	work := t.TempDir()
	store := filepath.Join(work, "store")
	logPath := filepath.Join(work, "tailerd.log")
	args := []string{"--source", src.URI, "--store", store, "--cut-age", "300ms", "--snapshot-workers", "1"}
	d := startTailerd(t, logPath, args...)
	waitForLog(t, 60*time.Second, logPath, func() bool { return storedThrough(t, store) > 0 })

	d.snapshotNow(t)
	var partial string
	waitForLog(t, 120*time.Second, logPath, func() bool {
		dirs, _ := filepath.Glob(filepath.Join(store, "streams", "*", "snapshots", "*"))
		for _, dir := range dirs {
			files, _ := os.ReadDir(dir)
			if len(files) >= 2 && !hasFile(files, "manifest.json") {
				partial = filepath.Base(dir)
				return true
			}
		}
		return false
	})
	d.kill()
	if files, err := os.ReadDir(filepath.Join(store, "streams", "rs0", "snapshots", partial)); err != nil || hasFile(files, "manifest.json") {
		t.Fatalf("the kill landed after snapshot %s completed (%v): the copy must take longer for this test to mean anything", partial, err)
	}

	l := listSnapshots(t, store)
	if len(l.Streams) != 1 {
		t.Fatalf("list after the kill: %+v", l)
	}
	s := l.Streams[0]
	if len(s.Snapshots) != 0 || strings.Join(s.Incomplete, ",") != partial {
		t.Fatalf("after a kill mid-copy: snapshots %+v incomplete %v; want none complete and %s incomplete", s.Snapshots, s.Incomplete, partial)
	}
	for _, w := range s.Windows {
		if strings.Contains(w.Base, partial) {
			t.Errorf("window %+v uses the interrupted snapshot", w)
		}
	}
	code, out, errOut := replayer(t, "restore", "--store", store, "--dry-run")
	if code != 0 || strings.Contains(out, partial) {
		t.Errorf("restore --dry-run after the kill: exit %d, must plan without %s\n%s%s", code, partial, out, errOut)
	}

	d = startTailerd(t, logPath, args...)
	waitForLog(t, 60*time.Second, logPath, func() bool { return len(listSnapshots(t, store).Streams[0].Incomplete) == 0 })
	d.snapshotNow(t)
	waitForLog(t, 120*time.Second, logPath, func() bool { return len(listSnapshots(t, store).Streams[0].Snapshots) == 1 })
	if code := d.stop(t); code != 0 {
		t.Errorf("tailerd exit %d after SIGTERM\n%s", code, logTail(logPath))
	}
	if !d.Logged("deleted a snapshot that a crash interrupted", partial) {
		t.Errorf("the restarted daemon did not say it deleted %s:\n%s", partial, logTail(logPath))
	}
	if l := listSnapshots(t, store); len(l.Streams[0].Incomplete) != 0 || l.Streams[0].Snapshots[0].ID == partial {
		t.Errorf("after restart and a new snapshot: %+v", l.Streams[0])
	}
}

func hasFile(entries []os.DirEntry, name string) bool {
	for _, e := range entries {
		if e.Name() == name {
			return true
		}
	}
	return false
}
