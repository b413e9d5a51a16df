package sdnotify

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// listen opens a real unixgram socket as systemd would, and returns a
// function reading the next datagram.
func listen(t *testing.T, addr string) func() string {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return func() string {
		t.Helper()
		buf := make([]byte, 4096)
		if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatal(err)
		}
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no notification arrived: %v", err)
		}
		return string(buf[:n])
	}
}

func TestNotifyPathSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify.sock")
	next := listen(t, path)
	n := New(path, "", "", os.Getpid())
	if !n.Enabled() {
		t.Fatal("a NOTIFY_SOCKET path must enable notifications")
	}
	steps := []struct {
		send func() error
		want string
	}{
		{n.Ready, "READY=1"},
		{n.Watchdog, "WATCHDOG=1"},
		{n.Stopping, "STOPPING=1"},
		{func() error { return n.Status("capturing\n2 streams") }, "STATUS=capturing 2 streams"},
	}
	for _, s := range steps {
		if err := s.send(); err != nil {
			t.Fatal(err)
		}
		if got := next(); got != s.want {
			t.Errorf("got %q, want %q", got, s.want)
		}
	}
	if err := n.Reloading(); err != nil {
		t.Fatal(err)
	}
	got := next()
	usec, ok := strings.CutPrefix(got, "RELOADING=1\nMONOTONIC_USEC=")
	if !ok {
		t.Fatalf("reloading: got %q", got)
	}
	if v, err := strconv.ParseInt(usec, 10, 64); err != nil || v <= 0 {
		t.Errorf("MONOTONIC_USEC %q: want a positive integer", usec)
	}
}

func TestNotifyAbstractSocket(t *testing.T) {
	addr := fmt.Sprintf("@tidelog-sdnotify-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	next := listen(t, addr)
	n := New(addr, "", "", os.Getpid())
	if err := n.Ready(); err != nil {
		t.Fatal(err)
	}
	if got := next(); got != "READY=1" {
		t.Errorf("got %q", got)
	}
}

func TestNotOutsideSystemd(t *testing.T) {
	for _, n := range []*Notifier{nil, New("", "30000000", "", 1)} {
		if n.Enabled() || n.WatchdogInterval() != 0 {
			t.Error("without NOTIFY_SOCKET nothing is enabled")
		}
		for _, f := range []func() error{n.Ready, n.Stopping, n.Reloading, n.Watchdog} {
			if err := f(); err != nil {
				t.Errorf("a no-op returned %v", err)
			}
		}
	}
	if err := New("relative.sock", "", "", 1).Ready(); err == nil {
		t.Error("a relative socket path must be refused")
	}
	// A socket nobody listens on is an error the daemon can log.
	if err := New(filepath.Join(t.TempDir(), "gone.sock"), "", "", 1).Ready(); err == nil {
		t.Error("a missing socket must be an error")
	}
}

func TestWatchdogInterval(t *testing.T) {
	cases := []struct {
		usec, pid string
		want      time.Duration
	}{
		{"30000000", "", 15 * time.Second},
		{"30000000", "42", 15 * time.Second},
		{"30000000", "43", 0}, // meant for another process
		{"", "", 0},
		{"x", "", 0},
		{"-5", "", 0},
	}
	for _, c := range cases {
		n := New("/run/systemd/notify", c.usec, c.pid, 42)
		if got := n.WatchdogInterval(); got != c.want {
			t.Errorf("WATCHDOG_USEC=%q WATCHDOG_PID=%q: interval %s, want %s", c.usec, c.pid, got, c.want)
		}
	}
}
