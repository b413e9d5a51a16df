package chaos

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// tailerd is one run of the daemon as a process. Runs share one log file;
// each remembers where its own output begins.
type tailerd struct {
	cmd     *exec.Cmd
	logPath string
	logFrom int64
	done    chan struct{}
	state   *os.ProcessState // set once done is closed
}

// startTailerd starts tailerd with args and env (added to the test's
// environment), its output appended to logPath.
func startTailerd(logPath string, env []string, args ...string) (*tailerd, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	info, err := logf.Stat()
	if err != nil {
		logf.Close()
		return nil, err
	}
	cmd := exec.Command(filepath.Join(binDir, "tailerd"), args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	d := &tailerd{cmd: cmd, logPath: logPath, logFrom: info.Size(), done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		d.state = cmd.ProcessState
		logf.Close()
		close(d.done)
	}()
	return d, nil
}

// exited reports whether the process has ended.
func (d *tailerd) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL and waits for the process; it reports whether the
// signal ended it (false: it had already exited by itself).
func (d *tailerd) kill() bool {
	if d.exited() {
		return false
	}
	_ = d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.done
	ws, ok := d.state.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// signal sends sig if the process runs.
func (d *tailerd) signal(sig os.Signal) error {
	if d.exited() {
		return os.ErrProcessDone
	}
	return d.cmd.Process.Signal(sig)
}

// wait waits up to limit for the process to exit by itself and returns its
// exit code (-1 for a signal); ok is false if it still runs.
func (d *tailerd) wait(limit time.Duration) (code int, ok bool) {
	select {
	case <-d.done:
		return d.state.ExitCode(), true
	case <-time.After(limit):
		return 0, false
	}
}

// stop sends SIGTERM and waits up to limit for the exit code.
func (d *tailerd) stop(limit time.Duration) (code int, ok bool) {
	_ = d.signal(syscall.SIGTERM)
	return d.wait(limit)
}

// output is what this run logged.
func (d *tailerd) output() string {
	data, _ := os.ReadFile(d.logPath)
	if int64(len(data)) < d.logFrom {
		return ""
	}
	return string(data[d.logFrom:])
}

// logged reports whether one line of this run's output holds every part.
func (d *tailerd) logged(parts ...string) bool {
	return len(d.lines(parts...)) > 0
}

// lines returns this run's lines that hold every part.
func (d *tailerd) lines(parts ...string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(d.output()))
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

// logLine is one of tailerd's JSON log lines, the fields the checks read.
type logLine struct {
	Level   string `json:"level"`
	Message string `json:"message"`
	Error   string `json:"error"`
	After   string `json:"after"`
	Next    string `json:"next"`
}

// records decodes this run's JSON log lines that hold every part.
func (d *tailerd) records(parts ...string) []logLine {
	var out []logLine
	for _, line := range d.lines(parts...) {
		var l logLine
		if json.Unmarshal([]byte(line), &l) == nil {
			out = append(out, l)
		}
	}
	return out
}
