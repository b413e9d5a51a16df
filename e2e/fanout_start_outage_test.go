package e2e

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/internal/workload"
)

// A tailerd started while one of its --publish-to stores (S3) is down does
// not wait for it: capture reaches --store (a directory) at once, which
// restores to a point recorded during the outage, /readyz is ready, and the
// S3 destination shows as failing in /metrics and tailerd status. Once
// MinIO is back, the spool opens the S3 store and catches it up: it
// restores, from the bucket alone, to every recorded point.
func TestFanOutStartsWithOneStoreDown(t *testing.T) {
	ctx := context.Background()
	src := testserver.StartT(t, testserver.Options{})
	client, err := src.Client()
	must(t, err)
	defer client.Disconnect(ctx)
	m, s3Loc := startS3(t, "startdown")
	must(t, m.Stop())

	work := t.TempDir()
	dir := filepath.Join(work, "store")
	logPath := filepath.Join(work, "tailerd.log")
	addr := freeAddr(t)
	base := "http://" + addr
	d := startTailerd(t, logPath, "--source", src.URI, "--store", dir, "--publish-to", "s3="+s3Loc,
		"--spool", filepath.Join(work, "spool"), "--http-addr", addr, "--cut-age", "300ms", "--cut-bytes", "65536")
	opsWaitFor(t, 2*time.Minute, logPath, "/readyz to answer 200 with the S3 store down", func() bool {
		code, _ := httpGet(base + "/readyz")
		return code == http.StatusOK
	})
	for _, line := range [][]string{
		{`"dest":"s3"`, "--publish-to s3 cannot be reached at start", "connection refused"},
		{`"dest":"s3"`, "destination not open", "waits in the spool"},
	} {
		if !d.Logged(line...) {
			t.Errorf("tailerd's log lacks a line with %q\n%s", line, logTail(logPath))
		}
	}

	w := workload.New(client, 37)
	var points []recorded
	record := func() { points = append(points, recorded{ts: lastTS(t, src, client), state: mustDump(t, client)}) }
	must(t, w.Step(ctx, 150))
	record()
	waitRestorable(t, dir, logPath, points[0].ts)
	if d.Exited() {
		t.Fatalf("tailerd exited %d with the S3 store down\n%s", d.ExitCode(), logTail(logPath))
	}
	if code, _ := httpGet(base + "/readyz"); code != http.StatusOK {
		t.Errorf("/readyz %d with capture running and the S3 store down; want 200", code)
	}
	failing := `tidelog_spool_destination_failing{dest="s3"}`
	pending := `tidelog_spool_destination_pending_bytes{dest="s3"}`
	if mt := scrapeMetrics(t, base); mt[failing] != 1 || mt[pending] <= 0 || mt[`tidelog_spool_destination_failing{dest="store"}`] != 0 {
		t.Errorf("/metrics with the S3 store down: %s=%v %s=%v, want failing with a backlog", failing, mt[failing], pending, mt[pending])
	}
	if out, errOut, code := runTailerdStatus(t, "--http-addr", addr); code != 0 || !strings.Contains(out, "WARNING publishing to s3 fails") {
		t.Errorf("tailerd status with the S3 store down: exit %d\n%s%s", code, out, errOut)
	}

	// The spool's publisher, not only the start, fails to open it: its own
	// error replaces the start's in /status.
	opsWaitFor(t, 2*time.Minute, logPath, "the publisher's own failed attempt to open the S3 store", func() bool {
		_, body := httpGet(base + "/status")
		return strings.Contains(body, "open destination s3")
	})

	restartCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	must(t, m.Restart(restartCtx))
	must(t, w.Step(ctx, 100))
	record()
	opsWaitFor(t, 2*time.Minute, logPath, "the S3 destination to open and catch up", func() bool {
		mt := scrapeMetrics(t, base)
		return mt[failing] == 0 && mt[pending] == 0
	})
	waitRestorable(t, s3Loc, logPath, points[1].ts)
	waitRestorable(t, dir, logPath, points[1].ts)
	if !d.Logged(`"dest":"s3"`, "destination open;") {
		t.Errorf("tailerd did not say the S3 destination opened\n%s", logTail(logPath))
	}
	if code := d.stop(t); code != 0 {
		t.Fatalf("tailerd exited %d on SIGTERM\n%s", code, logTail(logPath))
	}

	if code, out, errOut := replayer(t, "verify", "--store", s3Loc); code != 0 || !strings.HasPrefix(out, "OK:") {
		t.Fatalf("verify the S3 store: exit %d\n%s%s", code, out, errOut)
	}
	restoreAndCompare(t, dir, points[0], "")
	for _, p := range points {
		restoreAndCompare(t, s3Loc, p, "")
	}
}
