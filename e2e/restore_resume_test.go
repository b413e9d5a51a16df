package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/internal/workload"
)

// A stopped restore is finished by the same command with --after, as its
// advice says: the target holds what the stopped run wrote (the base it
// loaded, the entries through the resume point), so the resumed run loads
// and checks nothing and replays the entries after --after, and the
// snapshot's indexes, deferred to the replay's end, are still built. Here
// the restore ran to its end, so any earlier position is a valid resume
// point; the resumed run must end in the same state, from a snapshot and
// from the start of capture.
func TestRestoreResumesWithAfter(t *testing.T) {
	ctx := context.Background()
	src := testserver.StartT(t, testserver.Options{})
	client, err := src.Client()
	must(t, err)
	defer client.Disconnect(ctx)
	store := filepath.Join(t.TempDir(), "store")
	c := captureWithSnapshot(t, src, client, store)
	if c.snapshot == 0 || c.snapshot >= len(c.points) {
		t.Fatalf("%d points, %d of them before the snapshot: want some on either side", len(c.points), c.snapshot)
	}
	for _, tc := range []struct {
		name      string
		to, after recorded
		says      string
	}{
		{"from the snapshot", c.points[len(c.points)-1], c.points[c.snapshot], "snapshot"},
		{"from the start of capture", c.points[0], c.points[0], "start of capture"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := testserver.StartT(t, testserver.Options{NoOplog: true})
			args := []string{"restore", "--store", store, "--target", target.URI, "--to", tc.to.ts.String()}
			if code, out, errOut := replayer(t, args...); code != 0 || !strings.Contains(out, tc.says) {
				t.Fatalf("restore: exit %d, want 0 %s\n%s%s", code, tc.says, out, errOut)
			}
			code, out, errOut := replayer(t, append(args, "--after", tc.after.ts.Prev().String())...)
			if code != 0 {
				t.Fatalf("restore --after %s: exit %d, want 0\n%s%s", tc.after.ts.Prev(), code, out, errOut)
			}
			tc2, err := target.Client()
			must(t, err)
			defer tc2.Disconnect(ctx)
			if diff := workload.Diff(tc.to.state, mustDump(t, tc2)); diff != "" {
				t.Errorf("resumed restore to %s differs from the source then:\n%s", tc.to.ts, diff)
			}
		})
	}
}
