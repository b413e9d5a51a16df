// Package sdnotify tells systemd how a Type=notify service is doing, over the
// datagram socket systemd names in $NOTIFY_SOCKET (sd_notify(3)): READY=1
// once the daemon does its job, RELOADING=1 while it rereads its config,
// STOPPING=1 when it begins to stop, and WATCHDOG=1 keep-alives when the
// unit sets WatchdogSec=.
//
// Outside systemd ($NOTIFY_SOCKET unset) every call is a no-op that returns
// nil, so a daemon calls it unconditionally.
package sdnotify

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Notifier sends notifications to one socket. The zero Notifier (and a nil
// one) is not under systemd: it sends nothing.
type Notifier struct {
	addr     string        // socket path; "@name" for an abstract socket; "": none
	watchdog time.Duration // WATCHDOG_USEC, when it is meant for this process
}

// FromEnv reads $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID. A
// watchdog meant for another process (WATCHDOG_PID names it) is ignored.
func FromEnv() *Notifier {
	return New(os.Getenv("NOTIFY_SOCKET"), os.Getenv("WATCHDOG_USEC"), os.Getenv("WATCHDOG_PID"), os.Getpid())
}

// New is FromEnv with the environment given, for tests.
func New(notifySocket, watchdogUsec, watchdogPID string, pid int) *Notifier {
	n := &Notifier{addr: notifySocket}
	if usec, err := strconv.ParseInt(watchdogUsec, 10, 64); err == nil && usec > 0 {
		if p, err := strconv.Atoi(watchdogPID); watchdogPID == "" || err == nil && p == pid {
			n.watchdog = time.Duration(usec) * time.Microsecond
		}
	}
	return n
}

// Enabled reports whether notifications go anywhere.
func (n *Notifier) Enabled() bool { return n != nil && n.addr != "" }

// WatchdogInterval is how often to send WATCHDOG=1: half of WatchdogSec, as
// sd_watchdog_enabled(3) advises; 0 when systemd watches no keep-alives.
func (n *Notifier) WatchdogInterval() time.Duration {
	if !n.Enabled() {
		return 0
	}
	return n.watchdog / 2
}

// Ready says the daemon is up and doing its job.
func (n *Notifier) Ready() error { return n.Notify("READY=1") }

// Stopping says the daemon has begun to stop.
func (n *Notifier) Stopping() error { return n.Notify("STOPPING=1") }

// Reloading says the daemon is rereading its configuration; Ready must
// follow once it is done. MONOTONIC_USEC is required by Type=notify-reload
// and harmless otherwise.
func (n *Notifier) Reloading() error {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return fmt.Errorf("sd_notify: monotonic clock: %w", err)
	}
	usec := ts.Sec*1_000_000 + ts.Nsec/1_000
	return n.Notify("RELOADING=1\nMONOTONIC_USEC=" + strconv.FormatInt(usec, 10))
}

// Watchdog is one keep-alive.
func (n *Notifier) Watchdog() error { return n.Notify("WATCHDOG=1") }

// Status sets the one-line status systemctl status shows.
func (n *Notifier) Status(s string) error {
	return n.Notify("STATUS=" + strings.ReplaceAll(s, "\n", " "))
}

// Notify sends state (newline-separated VAR=VALUE assignments) as one
// datagram. It does nothing when not under systemd.
func (n *Notifier) Notify(state string) error {
	if !n.Enabled() {
		return nil
	}
	addr := n.addr
	switch {
	case strings.HasPrefix(addr, "@"):
		// An abstract socket: Go maps a leading '@' to the NUL byte.
	case strings.HasPrefix(addr, "/"):
	default:
		return fmt.Errorf("sd_notify: NOTIFY_SOCKET %q: want an absolute path or @abstract name", addr)
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	defer conn.Close()
	if err := conn.SetWriteDeadline(time.Now().Add(time.Second)); err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	w, err := conn.Write([]byte(state))
	if err != nil {
		return fmt.Errorf("sd_notify %q: %w", firstLine(state), err)
	}
	if w != len(state) {
		return errors.New("sd_notify: short write")
	}
	return nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
