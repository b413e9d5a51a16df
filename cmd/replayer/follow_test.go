package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/tidelog/tidelog/follow"
	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/store/dirstore"
)

// A follower checkpoint that cannot be used (here its state does not
// decode; a damaged Pebble file or a directory of something else too)
// exits 9, naming the directory and what to do: a code of its own, which a
// supervisor can tell from a failure worth restarting for.
func TestFollowExitsNineOnUnusableCheckpoint(t *testing.T) {
	work := t.TempDir()
	storeDir := filepath.Join(work, "store")
	if _, err := dirstore.Open(storeDir, true); err != nil {
		t.Fatal(err)
	}
	ckpt := filepath.Join(work, "checkpoint")
	db, err := pebble.Open(ckpt, &pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The keys docs/follow.md gives: a follower's format mark, a state
	// that is not JSON.
	for k, v := range map[string]string{"tidelog-follow/format": "1", "tidelog-follow/state": "{not json"} {
		if err := db.Set([]byte(k), []byte(v), pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	target := testserver.StartT(t, testserver.Options{NoOplog: true})

	var out, errOut strings.Builder
	code := run(context.Background(), []string{"follow", "--store", storeDir, "--target", target.URI, "--checkpoint", ckpt}, &out, &errOut)
	if code != exitCheckpoint || !strings.Contains(errOut.String(), ckpt) || !strings.Contains(errOut.String(), "state does not decode") ||
		!strings.Contains(errOut.String(), "move this one aside") {
		t.Fatalf("follow with an undecodable checkpoint state: exit %d, want %d naming %s and what to do\n%s%s", code, exitCheckpoint, ckpt, out.String(), errOut.String())
	}
}

// A restart refused because an apply cut short may have written past the
// new --until or --delay horizon exits 3, as a position outside what can
// be had: the message says which position and what to do.
func TestFollowExitsThreeOnHorizonBeforeUnfinishedApply(t *testing.T) {
	err := followError(&follow.UnfinishedCycleError{Dir: "/ck", Horizon: oplog.Timestamp{T: 1700000100, I: 1},
		UpTo: oplog.Timestamp{T: 1700000200, I: 1}, Through: oplog.Timestamp{T: 1700000000, I: 5}}, "/store")
	if code := exitCode(err); code != exitWindow || !strings.Contains(err.Error(), "--until 1700000200.1 or later") {
		t.Fatalf("exit %d, %v; want %d saying what to do", code, err, exitWindow)
	}
}
