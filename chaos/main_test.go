// Package chaos runs tailerd and replayer as the real binaries through the
// faults a backup meets in production — SIGKILLs at random moments, source
// restarts, store outages, a full spool disk and an oplog rolled past the
// checkpoint — under a steady writer whose every acknowledged write and
// recorded state is known, and then proves from the store alone that
// nothing was lost: every write at a restorable position is in the
// segments, and restores to recorded timestamps equal the recorded states.
//
// `go test ./chaos` is the short run (a handful of each fault, a few
// minutes); CHAOS=full (make chaos) the long one the figures in
// docs/reliability.md come from. CHAOS_SEED=N replays a schedule.
package chaos

import (
	"fmt"
	"os"
	"testing"

	"github.com/tidelog/tidelog/internal/procs"
)

// binDir holds tailerd and replayer built from the working tree.
var binDir string

// binDirEnv hands the binaries to a re-run of the test (see rerunInUserNS),
// which then uses them instead of building its own.
const binDirEnv = "TIDELOG_CHAOS_BIN"

func TestMain(m *testing.M) {
	if dir := os.Getenv(binDirEnv); dir != "" {
		binDir = dir
		os.Exit(m.Run())
	}
	dir, err := procs.Build("tailerd", "replayer")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
