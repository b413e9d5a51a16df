// Package e2e runs tailerd and replayer as the real binaries against real
// FerretDB servers, as an operator would.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tidelog/tidelog/internal/testserver"
)

var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tidelog-e2e-bin")
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
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// daemon is a running tailerd.
type daemon struct {
	cmd     *exec.Cmd
	log     *os.File
	logPath string
	logFrom int64 // size of the shared log file when this run started
	done    chan struct{}
	code    int
}

// output is what this run of the daemon logged (runs of one test share a
// log file, and an earlier run's lines must not satisfy a check of this one).
func (d *daemon) output() string {
	data, _ := os.ReadFile(d.logPath)
	if int64(len(data)) < d.logFrom {
		return ""
	}
	return string(data[d.logFrom:])
}

// loggedLine reports whether one line of this run's output holds every part.
func (d *daemon) loggedLine(parts ...string) bool {
	for _, line := range strings.Split(d.output(), "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return true
		}
	}
	return false
}

// snapshotNow asks for a snapshot (SIGUSR1) once the daemon handles the
// signal: it is caught from before "tailing the oplog" is logged, and
// before that it would kill the process.
func (d *daemon) snapshotNow(t *testing.T) {
	t.Helper()
	waitForLog(t, 60*time.Second, d.logPath, func() bool { return d.loggedLine("tailing the oplog") })
	must(t, d.cmd.Process.Signal(syscall.SIGUSR1))
}

func startTailerd(t *testing.T, logPath string, args ...string) *daemon {
	t.Helper()
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	info, err := logf.Stat()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(binDir, "tailerd"), args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &daemon{cmd: cmd, log: logf, logPath: logPath, logFrom: info.Size(), done: make(chan struct{})}
	go func() {
		cmd.Wait()
		d.code = cmd.ProcessState.ExitCode()
		logf.Close()
		close(d.done)
	}()
	t.Cleanup(func() { d.kill() })
	return d
}

func (d *daemon) kill() {
	select {
	case <-d.done:
		return
	default:
	}
	d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.done
}

// stop sends SIGTERM and returns the exit code.
func (d *daemon) stop(t *testing.T) int {
	t.Helper()
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
		return d.code
	case <-time.After(60 * time.Second):
		t.Fatal("tailerd did not stop within 60s of SIGTERM")
		return -1
	}
}

// wait waits for the daemon to exit by itself.
func (d *daemon) wait(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case <-d.done:
		return d.code
	case <-time.After(limit):
		t.Fatalf("tailerd still running after %s", limit)
		return -1
	}
}

// replayer runs the replayer to completion and returns its exit code and output.
func replayer(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "replayer"), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil && cmd.ProcessState == nil {
		t.Fatalf("run replayer: %v", err)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
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
	code, out, errOut := replayer(t, "list", "--store", store, "--json")
	if code != 0 {
		t.Fatalf("replayer list: exit %d\n%s%s", code, out, errOut)
	}
	var l listing
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatalf("replayer list --json: %v\n%s", err, out)
	}
	return l
}

func logTail(path string) string {
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return strings.Join(lines, "\n")
}
