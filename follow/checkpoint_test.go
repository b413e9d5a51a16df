package follow

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A damaged Pebble table under the committed state stops the follower at
// its start with ErrCheckpoint (exit 9 in replayer), naming the directory,
// the damage and what to do, on one line: not a read failure like another.
func TestFollowReportsDamagedCheckpoint(t *testing.T) {
	fx := newFixture(t)
	// The format mark in one table, the state in a later one: the damage
	// is met by the state's read, not when the directory is opened.
	ck, err := OpenCheckpoint(fx.ckpt, fx.log.Logger())
	if err != nil {
		t.Fatal(err)
	}
	if err := ck.pdb.Flush(); err != nil {
		t.Fatal(err)
	}
	ck.Close()
	before := sstables(t, fx.ckpt)
	s1 := fx.put(inserts(t, model{}, 1, 5)...)
	fx.followThrough(s1.OpEnd)
	if ck, err = OpenCheckpoint(fx.ckpt, fx.log.Logger()); err != nil {
		t.Fatal(err)
	}
	if err := ck.pdb.Flush(); err != nil {
		t.Fatal(err)
	}
	ck.Close()
	var state string
	for p := range sstables(t, fx.ckpt) {
		if !before[p] {
			state = p
		}
	}
	if state == "" {
		t.Fatal("no table holds the state")
	}
	data, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/4] ^= 0xff
	if err := os.WriteFile(state, data, 0o644); err != nil {
		t.Fatal(err)
	}

	r := fx.start(nil)
	_, err = r.wait(t)
	abs, _ := filepath.Abs(fx.ckpt)
	if !errors.Is(err, ErrCheckpoint) || !strings.Contains(err.Error(), abs) || !strings.Contains(err.Error(), "move this one aside") ||
		!strings.Contains(err.Error(), "checksum mismatch") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("a damaged checkpoint: %v; want ErrCheckpoint naming %s, the damage and what to do, on one line", err, abs)
	}
	if st := r.f.Status(); st.Phase != "failed" {
		t.Errorf("status: %+v", st)
	}
}

func sstables(t *testing.T, dir string) map[string]bool {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.sst"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, p := range paths {
		out[p] = true
	}
	return out
}
