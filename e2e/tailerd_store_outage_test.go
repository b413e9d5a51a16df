package e2e

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/internal/workload"
)

// waitingForStore is what tailerd logs while it waits for a store it
// cannot reach at start.
const waitingForStore = "the store cannot be reached; tailerd keeps trying and does not exit"

// A tailerd started while its S3 store is down does not exit (systemd's
// start limit would end such restarts during a long outage, and backups
// with them): it says it waits, in its log, on /readyz and to systemd,
// keeps trying, and once MinIO is back it captures everything the source
// wrote meanwhile and tells systemd it is ready.
func TestTailerdWaitsForItsStoreAtStart(t *testing.T) {
	ctx := context.Background()
	src := testserver.StartT(t, testserver.Options{})
	client, err := src.Client()
	must(t, err)
	defer client.Disconnect(ctx)
	m, loc := startS3(t, "late")
	must(t, m.Stop())

	work := t.TempDir()
	addr := freeAddr(t)
	notes := listenNotify(t, filepath.Join(work, "notify.sock"))
	t.Setenv("NOTIFY_SOCKET", filepath.Join(work, "notify.sock"))
	w := workload.New(client, 23)
	must(t, w.Step(ctx, 100))
	logPath := filepath.Join(work, "tailerd.log")
	d := startTailerd(t, logPath, "--source", src.URI, "--store", loc, "--checkpoint", filepath.Join(work, "checkpoint"),
		"--http-addr", addr, "--cut-age", "300ms", "--cut-bytes", "65536")
	base := "http://" + addr
	opsWaitFor(t, 2*time.Minute, logPath, "tailerd to say it waits for the store", func() bool {
		code, body := httpGet(base + "/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "waiting for the store since") && d.Logged(waitingForStore, "connection refused")
	})
	if d.Exited() {
		t.Fatalf("tailerd exited %d with the store down; want it to wait\n%s", d.ExitCode(), logTail(logPath))
	}
	out, errOut, code := runTailerdStatus(t, "--http-addr", addr)
	if code != 0 || !strings.Contains(out, "WARNING not ready: waiting for the store since") {
		t.Errorf("tailerd status while waiting for the store: exit %d\n%s%s", code, out, errOut)
	}

	must(t, w.Step(ctx, 100))
	ts := lastTS(t, src, client)
	restartCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	must(t, m.Restart(restartCtx))
	opsWaitFor(t, 2*time.Minute, logPath, "/readyz to answer 200 once MinIO is back", func() bool {
		code, _ := httpGet(base + "/readyz")
		return code == http.StatusOK
	})
	waitRestorable(t, loc, logPath, ts)
	if !d.Logged("the store can be reached again") {
		t.Errorf("tailerd did not say the store came back\n%s", logTail(logPath))
	}
	if code := d.stop(t); code != 0 {
		t.Fatalf("tailerd exited %d on SIGTERM\n%s", code, logTail(logPath))
	}
	if code, out, errOut := replayer(t, "verify", "--store", loc); code != 0 || !strings.HasPrefix(out, "OK:") {
		t.Fatalf("verify: exit %d\n%s%s", code, out, errOut)
	}
	got := notes()
	wait, ready := strings.Index(got, "EXTEND_TIMEOUT_USEC="), strings.Index(got, "READY=1")
	if wait < 0 || ready < wait || !strings.Contains(got, "STATUS=waiting for the store") {
		t.Errorf("systemd was not told of the wait (EXTEND_TIMEOUT_USEC and STATUS before READY=1); it got:\n%s", got)
	}
}

// SIGTERM (systemctl stop) while tailerd waits for its store, even in the
// middle of an attempt, stops it at once with exit 0.
func TestTailerdStopsWhileWaitingForItsStore(t *testing.T) {
	m, loc := startS3(t, "stop")
	must(t, m.Stop())
	work := t.TempDir()
	logPath := filepath.Join(work, "tailerd.log")
	d := startTailerd(t, logPath, "--source", "mongodb://127.0.0.1:1/?replicaSet=rs0", "--store", loc,
		"--checkpoint", filepath.Join(work, "checkpoint"))
	waitForLog(t, time.Minute, logPath, func() bool { return d.Logged("store request failed; retrying", "connection refused") })
	began := time.Now()
	must(t, d.Signal(syscall.SIGTERM))
	code, ok := d.Wait(30 * time.Second)
	if took := time.Since(began); !ok || took > 5*time.Second || code != 0 {
		t.Fatalf("SIGTERM while waiting for the store: exit %d after %s (exited %v); want 0 within 5s\n%s", code, took.Round(time.Millisecond), ok, logTail(logPath))
	}
	if !d.Logged("stopped while waiting for the store") {
		t.Errorf("tailerd did not say it stopped while waiting\n%s", logTail(logPath))
	}
}
