// Package e2e runs tailerd and replayer as the real binaries against real
// FerretDB servers, as an operator would.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/tidelog/tidelog/internal/procs"
)

var binDir string

func TestMain(m *testing.M) {
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

// daemon is a running tailerd (or replayer follow). Runs of one test share
// a log file, and an earlier run's lines must not satisfy a check of this
// one: Output and Logged read this run's.
type daemon struct{ *procs.Proc }

// snapshotNow asks for a snapshot (SIGUSR1) once the daemon handles the
// signal: it is caught from before "tailing the oplog" is logged, and
// before that it would kill the process.
func (d *daemon) snapshotNow(t *testing.T) {
	t.Helper()
	waitForLog(t, 60*time.Second, d.LogPath, func() bool { return d.Logged("tailing the oplog") })
	must(t, d.Signal(syscall.SIGUSR1))
}

func startTailerd(t *testing.T, logPath string, args ...string) *daemon {
	t.Helper()
	return startDaemon(t, "tailerd", logPath, nil, args...)
}

// startDaemon starts binary with args, its stderr (and stdout, unless
// given another writer) appended to logPath; the test's end kills it.
func startDaemon(t *testing.T, binary, logPath string, stdout io.Writer, args ...string) *daemon {
	t.Helper()
	p, err := procs.Start(filepath.Join(binDir, binary), logPath, nil, stdout, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Kill() })
	return &daemon{p}
}

func (d *daemon) kill() { d.Kill() }

// stop sends SIGTERM and returns the exit code.
func (d *daemon) stop(t *testing.T) int {
	t.Helper()
	code, ok := d.Stop(60 * time.Second)
	if !ok {
		t.Fatalf("%s did not stop within 60s of SIGTERM", filepath.Base(d.Cmd.Path))
	}
	return code
}

// wait waits for the daemon to exit by itself.
func (d *daemon) wait(t *testing.T, limit time.Duration) int {
	t.Helper()
	code, ok := d.Wait(limit)
	if !ok {
		t.Fatalf("%s still running after %s", filepath.Base(d.Cmd.Path), limit)
	}
	return code
}

// replayer runs the replayer to completion and returns its exit code and output.
func replayer(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	r, err := procs.Run(ctx, filepath.Join(binDir, "replayer"), nil, args...)
	if err != nil {
		t.Fatal(err)
	}
	return r.Code, r.Stdout, r.Stderr
}

type listing struct {
	Streams []struct {
		Name       string `json:"name"`
		Restorable *struct {
			From string `json:"from"`
			To   string `json:"to"`
		} `json:"restorable"`
		Gaps []struct {
			After string `json:"after"`
			Next  string `json:"next"`
		} `json:"gaps"`
		Segments []struct {
			Name string `json:"name"`
		} `json:"segments"`
	} `json:"streams"`
}

func list(t *testing.T, store string) listing {
	t.Helper()
	l, ok := listIfThere(t, store)
	if !ok {
		t.Fatalf("replayer list: %s is not a tidelog store", store)
	}
	return l
}

// listIfThere is list for a wait that may begin before tailerd has created
// the store (on a loaded machine it can take longer to start than the test
// takes to write): "not a tidelog store" (exit 5) is "not yet", any other
// failure fails the test.
func listIfThere(t *testing.T, store string) (listing, bool) {
	t.Helper()
	code, out, errOut := replayer(t, "list", "--store", store, "--json")
	if code == 5 {
		return listing{}, false
	}
	if code != 0 {
		t.Fatalf("replayer list: exit %d\n%s%s", code, out, errOut)
	}
	var l listing
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatalf("replayer list --json: %v\n%s", err, out)
	}
	return l, true
}

// logTail is the end of a log, for failure messages.
func logTail(path string) string { return procs.Tail(path, 30) }
