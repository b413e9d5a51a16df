package chaos

import (
	"os"
	"strings"

	"github.com/tidelog/tidelog/internal/procs"
)

// logMark is where the log ends now, for loggedSince.
func (r *run) logMark() int64 {
	fi, err := os.Stat(r.logPath)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// loggedSince reports whether a line logged since mark (by any run of
// tailerd) holds every part.
func (r *run) loggedSince(mark int64, parts ...string) bool {
	data, _ := os.ReadFile(r.logPath)
	if int64(len(data)) < mark {
		return false
	}
	return len(procs.Lines(string(data[mark:]), parts...)) > 0
}

// keepLog copies a failed run's log out of the test's temporary directory.
func keepLog(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	f, err := os.CreateTemp("", "tidelog-chaos-tailerd-*.log")
	if err != nil {
		return "(not kept: " + err.Error() + ")"
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		return "(not kept: " + err.Error() + ")"
	}
	return f.Name()
}

// errorMessages counts tailerd's error-level messages by text, for the report.
func errorMessages(log string) map[string]int {
	out := map[string]int{}
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, `"level":"error"`) {
			continue
		}
		_, msg, ok := strings.Cut(line, `"message":"`)
		if !ok {
			continue
		}
		msg, _, _ = strings.Cut(msg, `"`)
		if len(msg) > 80 {
			msg = msg[:80]
		}
		out[msg]++
	}
	return out
}
