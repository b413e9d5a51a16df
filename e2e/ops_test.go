package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tidelog/tidelog/internal/procs"
	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/internal/workload"
)

// tailerd as operators watch it: on a FerretDB source under writes, with
// --http-addr from its config file, /readyz turns 200, /metrics has every
// capture series and its positions and counters move between two scrapes,
// `tailerd status --json` reports the stream, and SIGHUP with a changed log
// level is logged as applied (and a changed cut_age as needing a restart).
func TestOpsMetricsStatusAndReload(t *testing.T) {
	ctx := context.Background()
	src := testserver.StartT(t, testserver.Options{})
	client, err := src.Client()
	must(t, err)
	defer client.Disconnect(ctx)

	work := t.TempDir()
	addr := freeAddr(t)
	cfgPath := filepath.Join(work, "tailerd.yaml")
	writeOpsConfig := func(level, cutAge string) {
		body := fmt.Sprintf("source: ${OPS_SOURCE}\nstore: %s\nhttp_addr: %s\nlog_level: %s\ncut_age: %s\ncut_bytes: 65536\n",
			filepath.Join(work, "store"), addr, level, cutAge)
		must(t, os.WriteFile(cfgPath, []byte(body), 0o600))
	}
	writeOpsConfig("info", "300ms")
	t.Setenv("OPS_SOURCE", src.URI) // expanded from the environment tailerd inherits
	// As under systemd with WatchdogSec=1s: a notify socket to read.
	notes := listenNotify(t, filepath.Join(work, "notify.sock"))
	t.Setenv("NOTIFY_SOCKET", filepath.Join(work, "notify.sock"))
	t.Setenv("WATCHDOG_USEC", "1000000")
	logPath := filepath.Join(work, "tailerd.log")
	d := startTailerd(t, logPath, "--config", cfgPath)

	base := "http://" + addr
	opsWaitFor(t, 60*time.Second, logPath, "/readyz to answer 200", func() bool {
		code, _ := httpGet(base + "/readyz")
		return code == http.StatusOK
	})
	if code, body := httpGet(base + "/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz: %d %s", code, body)
	}

	w := workload.New(client, 7)
	must(t, w.Step(ctx, 100))
	var first map[string]float64
	opsWaitFor(t, 30*time.Second, logPath, "entries in /metrics", func() bool {
		first = scrapeMetrics(t, base)
		_, probed := first[series("tidelog_capture_oplog_headroom_seconds")] // 0 while the oplog spans under a second
		return first[series("tidelog_capture_entries_total")] > 0 && probed
	})
	for _, name := range []string{
		"tidelog_capture_captured_timestamp_seconds", "tidelog_capture_durable_timestamp_seconds", "tidelog_capture_lag_seconds",
		"tidelog_capture_lag_entries", "tidelog_capture_segments_total", "tidelog_capture_entries_total", "tidelog_capture_bytes_total",
		"tidelog_capture_store_errors_total", "tidelog_capture_read_errors_total", "tidelog_capture_checkpoint_age_seconds",
		"tidelog_capture_oplog_headroom_seconds", "tidelog_capture_up", "tidelog_capture_stream_restarts_total",
	} {
		if _, ok := first[series(name)]; !ok {
			t.Errorf("/metrics lacks %s for stream rs0", name)
		}
	}
	for _, name := range []string{"tidelog_capture_pipelines_running", "tidelog_capture_pipeline_restarts_total",
		"tidelog_capture_gaps_detected_total", "tidelog_capture_start_time_seconds", "tidelog_snapshot_interval_seconds"} {
		if _, ok := first[name]; !ok {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	if first["tidelog_capture_pipelines_running"] != 1 || first[series("tidelog_capture_up")] != 1 {
		t.Errorf("pipelines running %v, up %v", first["tidelog_capture_pipelines_running"], first[series("tidelog_capture_up")])
	}

	must(t, w.Step(ctx, 100))
	var second map[string]float64
	opsWaitFor(t, 30*time.Second, logPath, "captured ts, entries and bytes to move", func() bool {
		second = scrapeMetrics(t, base)
		return second[series("tidelog_capture_captured_timestamp_seconds")] >= first[series("tidelog_capture_captured_timestamp_seconds")] &&
			second[series("tidelog_capture_entries_total")] > first[series("tidelog_capture_entries_total")] &&
			second[series("tidelog_capture_bytes_total")] > first[series("tidelog_capture_bytes_total")]
	})

	// tailerd status: the JSON as is, and the summary for a person.
	out, errOut, code := runTailerdStatus(t, "--http-addr", addr, "--json")
	if code != 0 {
		t.Fatalf("tailerd status --json: exit %d: %s", code, errOut)
	}
	var st struct {
		Daemon  string `json:"daemon"`
		Ready   bool   `json:"ready"`
		Streams []struct {
			Stream  string  `json:"stream"`
			State   string  `json:"state"`
			Lag     float64 `json:"lag_seconds"`
			Durable string  `json:"durable"`
		} `json:"streams"`
		Config struct {
			Source string `json:"source"`
		} `json:"config"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status JSON: %v\n%s", err, out)
	}
	if st.Daemon != "tailerd" || !st.Ready || len(st.Streams) != 1 || st.Streams[0].Stream != "rs0" || st.Streams[0].State != "capturing" {
		t.Errorf("status: %+v", st)
	}
	out, errOut, code = runTailerdStatus(t, "--config", cfgPath)
	if code != 0 || !strings.Contains(out, "stream rs0") || !strings.Contains(out, "ready") {
		t.Errorf("tailerd status: exit %d\n%s%s", code, out, errOut)
	}

	// SIGHUP: the log level applies, cut_age needs a restart; both said.
	writeOpsConfig("debug", "500ms")
	must(t, d.Signal(syscall.SIGHUP))
	waitForLog(t, 30*time.Second, logPath, func() bool {
		return d.Logged(`"key":"log_level"`, "setting applied") && d.Logged(`"key":"cut_age"`, "needs a restart")
	})
	out, errOut, _ = runTailerdStatus(t, "--http-addr", addr, "--json")
	if !strings.Contains(out, `"log_level": "debug"`) {
		t.Errorf("status after reload does not show the new log level: %s%s", out, errOut)
	}

	if code := d.stop(t); code != 0 {
		t.Fatalf("tailerd exit %d\n%s", code, logTail(logPath))
	}
	got := notes()
	for _, want := range []string{"READY=1", "WATCHDOG=1", "RELOADING=1\nMONOTONIC_USEC=", "STOPPING=1"} {
		if !strings.Contains(got, want) {
			t.Errorf("systemd was not told %q; it got:\n%s", want, got)
		}
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("the metrics endpoint still answers after tailerd stopped")
	}
}

// listenNotify is systemd's end of NOTIFY_SOCKET: it collects every
// datagram, each on its own line, until the returned function is called.
func listenNotify(t *testing.T, path string) func() string {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	must(t, err)
	t.Cleanup(func() { conn.Close() })
	var all strings.Builder
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return // closed
			}
			all.Write(buf[:n])
			all.WriteString("\n")
		}
	}()
	return func() string {
		conn.Close()
		<-done
		return all.String()
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	addr := ln.Addr().String()
	must(t, ln.Close())
	return addr
}

func httpGet(url string) (int, string) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// series names rs0's series of a per-stream metric.
func series(name string) string { return name + `{role="replset",stream="rs0"}` }

var sampleLine = regexp.MustCompile(`^(tidelog_[a-z0-9_]+(?:\{[^}]*\})?) (\S+)$`)

// scrapeMetrics reads /metrics' text format: series as written -> value.
func scrapeMetrics(t *testing.T, base string) map[string]float64 {
	t.Helper()
	code, body := httpGet(base + "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(body, "\n") {
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			t.Fatalf("/metrics line %q: %v", line, err)
		}
		out[m[1]] = v
	}
	return out
}

func runTailerdStatus(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := procs.Run(ctx, filepath.Join(binDir, "tailerd"), nil, append([]string{"status"}, args...)...)
	must(t, err)
	return r.Stdout, r.Stderr, r.Code
}
