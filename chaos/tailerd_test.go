package chaos

import (
	"encoding/json"
	"path/filepath"

	"github.com/tidelog/tidelog/internal/procs"
)

// tailerd is one run of the daemon as a process. Runs share one log file;
// each remembers where its own output begins.
type tailerd struct{ *procs.Proc }

// startTailerd starts tailerd with args and env (added to the test's
// environment), its output appended to logPath.
func startTailerd(logPath string, env []string, args ...string) (*tailerd, error) {
	p, err := procs.Start(filepath.Join(binDir, "tailerd"), logPath, env, nil, args...)
	if err != nil {
		return nil, err
	}
	return &tailerd{p}, nil
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
	for _, line := range d.Lines(parts...) {
		var l logLine
		if json.Unmarshal([]byte(line), &l) == nil {
			out = append(out, l)
		}
	}
	return out
}
