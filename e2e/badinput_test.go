package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tidelog/tidelog/store/dirstore"
)

// Each kind of bad input gets its own exit code and a message that says what
// is wrong, without a server having to exist.
func TestBadInputGetsClearErrors(t *testing.T) {
	dir := t.TempDir()
	notStore := filepath.Join(dir, "not-a-store")
	must(t, os.MkdirAll(notStore, 0o755))
	must(t, os.WriteFile(filepath.Join(notStore, "vacation.jpg"), []byte("not segments"), 0o644))
	badCkpt := filepath.Join(dir, "bad-checkpoint")
	must(t, os.MkdirAll(badCkpt, 0o755))
	must(t, os.WriteFile(filepath.Join(badCkpt, "CURRENT"), []byte("garbage\x00\x01"), 0o644))
	must(t, os.WriteFile(filepath.Join(badCkpt, "MANIFEST-000001"), []byte("garbage"), 0o644))
	store := filepath.Join(dir, "store")
	if _, err := dirstore.Open(store, true); err != nil {
		t.Fatal(err)
	}
	unreachable := "mongodb://127.0.0.1:1/?directConnection=true"

	tailerd := []struct {
		name string
		args []string
		code int
		says string
	}{
		{"no source", []string{"--store", store}, 2, "--source is required"},
		{"bad URI", []string{"--source", "mongo://nope", "--store", store}, 2, "not a valid MongoDB URI"},
		{"bad flag value", []string{"--source", unreachable, "--store", store, "--cut-age", "-5s"}, 2, "--cut-age"},
		{"bad start", []string{"--source", unreachable, "--store", store, "--start", "yesterday"}, 2, "start position"},
		{"unreachable source", []string{"--source", unreachable, "--store", store, "--connect-timeout", "1s"}, 4, "source"},
		{"not a store", []string{"--source", unreachable, "--store", notStore}, 5, "not a tidelog store"},
		{"corrupt checkpoint", []string{"--source", unreachable, "--store", store, "--checkpoint", badCkpt}, 6, "checkpoint"},
	}
	for _, tc := range tailerd {
		t.Run("tailerd "+tc.name, func(t *testing.T) {
			logPath := filepath.Join(t.TempDir(), "log")
			d := startTailerd(t, logPath, tc.args...)
			code := d.wait(t, 60*time.Second)
			out, _ := os.ReadFile(logPath)
			if code != tc.code || !strings.Contains(string(out), tc.says) {
				t.Errorf("exit %d, want %d with %q in:\n%s", code, tc.code, tc.says, out)
			}
		})
	}

	replayerCases := []struct {
		name string
		args []string
		code int
		says string
	}{
		{"no command", nil, 2, "usage"},
		{"unknown command", []string{"frobnicate"}, 2, "unknown command"},
		{"bad --to", []string{"restore", "--store", store, "--target", unreachable, "--to", "noon"}, 2, "want T.I"},
		{"no target", []string{"restore", "--store", store}, 2, "--target is required"},
		{"--after with --drop", []string{"apply", "--oplog-file", store, "--target", unreachable, "--after", "1.1", "--drop"}, 2, "use one or the other"},
		{"bad --after", []string{"apply", "--oplog-file", store, "--target", unreachable, "--after", "soon"}, 2, "--after"},
		{"list a non-store", []string{"list", "--store", notStore}, 5, "not a tidelog store"},
		{"verify a missing store", []string{"verify", "--store", filepath.Join(dir, "missing")}, 5, "tidelog"},
		{"unreachable target", []string{"restore", "--store", store, "--target", unreachable, "--connect-timeout", "1s"}, 7, "target unreachable"},
	}
	for _, tc := range replayerCases {
		t.Run("replayer "+tc.name, func(t *testing.T) {
			code, out, errOut := replayer(t, tc.args...)
			if code != tc.code || !strings.Contains(out+errOut, tc.says) {
				t.Errorf("exit %d, want %d with %q in:\n%s%s", code, tc.code, tc.says, out, errOut)
			}
		})
	}
}
