// Package procs builds tidelog's commands and runs them as processes, for
// the tests that drive the real binaries (e2e, chaos): a daemon whose
// output goes to a log file that its successive runs share, and a command
// run to completion.
package procs

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/tidelog/tidelog/internal/testserver"
)

// Build builds ./cmd/NAME of the working tree for each name into a new
// temporary directory, which it returns; the caller removes it.
func Build(names ...string) (string, error) {
	dir, err := os.MkdirTemp("", "tidelog-bin")
	if err != nil {
		return "", err
	}
	for _, name := range names {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), "./cmd/"+name)
		cmd.Dir = testserver.RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			os.RemoveAll(dir)
			return "", fmt.Errorf("build %s: %w\n%s", name, err, out)
		}
	}
	return dir, nil
}

// Proc is a running process whose stderr (and stdout, unless Start was
// given another writer) is appended to a log file. Runs of one test may
// share the file; each remembers where its own output begins.
type Proc struct {
	Cmd     *exec.Cmd
	LogPath string
	logFrom int64
	done    chan struct{}
	state   *os.ProcessState // set once done is closed
}

// Start starts bin with args and env added to the test's environment, its
// output appended to logPath; stdout, when not nil, takes the standard
// output instead.
func Start(bin, logPath string, env []string, stdout io.Writer, args ...string) (*Proc, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	info, err := logf.Stat()
	if err != nil {
		logf.Close()
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if stdout != nil {
		cmd.Stdout = stdout
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	p := &Proc{Cmd: cmd, LogPath: logPath, logFrom: info.Size(), done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		p.state = cmd.ProcessState
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// Done is closed once the process has ended.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// State is how the process ended; nil while it runs.
func (p *Proc) State() *os.ProcessState {
	if !p.Exited() {
		return nil
	}
	return p.state
}

// ExitCode is the process's exit code once it ended (-1 for a signal),
// -1 while it runs.
func (p *Proc) ExitCode() int {
	if !p.Exited() {
		return -1
	}
	return p.state.ExitCode()
}

// Signal sends sig if the process runs.
func (p *Proc) Signal(sig os.Signal) error {
	if p.Exited() {
		return os.ErrProcessDone
	}
	return p.Cmd.Process.Signal(sig)
}

// Kill sends SIGKILL and waits for the process; it reports whether the
// signal ended it (false: it had already exited by itself).
func (p *Proc) Kill() bool {
	if p.Exited() {
		return false
	}
	_ = p.Cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	ws, ok := p.state.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// Wait waits up to limit for the process to exit by itself and returns its
// exit code (-1 for a signal); ok is false if it still runs.
func (p *Proc) Wait(limit time.Duration) (code int, ok bool) {
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-p.done:
		return p.state.ExitCode(), true
	case <-t.C:
		return 0, false
	}
}

// Stop sends SIGTERM and waits up to limit for the exit code.
func (p *Proc) Stop(limit time.Duration) (code int, ok bool) {
	_ = p.Signal(syscall.SIGTERM)
	return p.Wait(limit)
}

// Output is what this run logged.
func (p *Proc) Output() string {
	data, _ := os.ReadFile(p.LogPath)
	if int64(len(data)) < p.logFrom {
		return ""
	}
	return string(data[p.logFrom:])
}

// Lines returns this run's logged lines that hold every part.
func (p *Proc) Lines(parts ...string) []string { return Lines(p.Output(), parts...) }

// Logged reports whether one line this run logged holds every part.
func (p *Proc) Logged(parts ...string) bool { return len(p.Lines(parts...)) > 0 }

// Lines returns text's lines that hold every part.
func Lines(text string, parts ...string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			out = append(out, line)
		}
	}
	return out
}

// Tail is the last n lines of the file at path, for failure messages.
func Tail(path string, n int) string {
	data, _ := os.ReadFile(path)
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// Result is a command run to completion.
type Result struct {
	Code           int
	Stdout, Stderr string
}

func (r Result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
}

// Run runs bin with args and env added to the test's environment until it
// exits or ctx ends (which kills it). The error is for a process that
// could not be run at all; an exit code is not one.
func Run(ctx context.Context, bin string, env []string, args ...string) (Result, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil && cmd.ProcessState == nil {
		return Result{}, fmt.Errorf("run %s %v: %w", filepath.Base(bin), args, err)
	}
	return Result{Code: cmd.ProcessState.ExitCode(), Stdout: stdout.String(), Stderr: stderr.String()}, nil
}
