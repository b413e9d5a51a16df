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
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/tidelog/tidelog/internal/testserver"
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
	dir, err := os.MkdirTemp("", "tidelog-chaos-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	for _, name := range []string{"tailerd", "replayer"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), "./cmd/"+name)
		cmd.Dir = testserver.RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", name, err, out)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
