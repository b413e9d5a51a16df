package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/tidelog/tidelog/internal/testlog"
	"github.com/tidelog/tidelog/store"
)

func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func get(url string) (int, string) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func waitUntil(t *testing.T, limit time.Duration, what string, log *testlog.Buffer, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s\n%s", limit, what, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startWaiting runs tailerd against a Kafka store on port, where nothing
// listens yet, and waits until it says it waits for the store: in the log,
// on /readyz (503) and in /status. It returns run's exit code channel.
func startWaiting(t *testing.T, ctx context.Context, port int, log *testlog.Buffer) (<-chan int, string) {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", freeLoopbackPort(t))
	args := []string{"--source", testSource, "--connect-timeout", "1s", "--http-addr", addr,
		"--store", "kafka://127.0.0.1:" + strconv.Itoa(port) + "/tidelog", "--checkpoint", filepath.Join(t.TempDir(), "ckpt")}
	exit := make(chan int, 1)
	go func() { exit <- run(ctx, args, log) }()
	base := "http://" + addr
	waitUntil(t, 60*time.Second, "tailerd to say it waits for the store", log, func() bool {
		code, body := get(base + "/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "waiting for the store since") &&
			strings.Contains(log.String(), "the store cannot be reached; tailerd keeps trying and does not exit")
	})
	code, body := get(base + "/status")
	var doc statusDoc
	if err := json.Unmarshal([]byte(body), &doc); code != http.StatusOK || err != nil || doc.Ready || !strings.Contains(doc.NotReady, "waiting for the store") {
		t.Errorf("/status while waiting for the store: %d %v %+v", code, err, doc)
	}
	return exit, base
}

// A store that cannot be reached at start is waited for, not an exit
// (which systemd would retry only until its start limit): /readyz says
// so, and once the store is there tailerd goes on (here to the source,
// which is not there: exit 4).
func TestStoreOutageAtStartIsWaitedFor(t *testing.T) {
	port := freeLoopbackPort(t)
	var log testlog.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	exit, _ := startWaiting(t, ctx, port, &log)
	select {
	case code := <-exit:
		t.Fatalf("tailerd exited %d while the store could not be reached; want it to wait\n%s", code, log.String())
	case <-time.After(2 * time.Second): // a few more attempts
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case code := <-exit:
		if code != exitSource || !strings.Contains(log.String(), "the store can be reached again") {
			t.Fatalf("once the store was up: exit %d, want %d (the source is down) after saying the store is back\n%s", code, exitSource, log.String())
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("tailerd still waits 2 min after the store came up\n%s", log.String())
	}
}

// SIGTERM while waiting for the store stops tailerd at once, exit 0.
func TestStopWhileWaitingForTheStore(t *testing.T) {
	var log testlog.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exit, _ := startWaiting(t, ctx, freeLoopbackPort(t), &log)
	cancel()
	select {
	case code := <-exit:
		if code != exitOK || !strings.Contains(log.String(), "stopped while waiting for the store") {
			t.Fatalf("stopped while waiting for the store: exit %d, want 0\n%s", code, log.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("tailerd did not stop within 5s of SIGTERM while waiting for the store\n%s", log.String())
	}
}

// What is an outage (waited for) and what is an answer (exit 5 at once).
func TestUnreachable(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", fmt.Errorf("open store: %w", refused), true},
		{"connection reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"S3 unavailable", fmt.Errorf("gave up after 11 attempts: %w", minio.ErrorResponse{Code: "ServiceUnavailable", StatusCode: http.StatusServiceUnavailable}), true},
		{"S3 gateway timeout", minio.ErrorResponse{StatusCode: http.StatusGatewayTimeout}, true},
		{"S3 access denied", fmt.Errorf("open store: %w", minio.ErrorResponse{Code: "AccessDenied", StatusCode: http.StatusForbidden}), false},
		{"S3 no such bucket", minio.ErrorResponse{Code: "NoSuchBucket", StatusCode: http.StatusNotFound}, false},
		{"TLS alert", &net.OpError{Op: "remote error", Err: errors.New("tls: certificate required")}, false},
		{"not a store", errors.New("not a tidelog store"), false},
		{"store gave up (a server closing connections)", fmt.Errorf("open store: gave up after 11 attempts: %w: %w", store.ErrUnavailable, io.EOF), true},
	} {
		if got := unreachable(tc.err); got != tc.want {
			t.Errorf("%s: unreachable = %v, want %v", tc.name, got, tc.want)
		}
	}
}
