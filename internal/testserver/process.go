package testserver

import (
	"os/exec"
	"syscall"
	"time"
)

// stopProcess ends a server process started in its own process group:
// SIGTERM, then SIGKILL to the group after 10 s; it returns once done is
// closed (the process was waited for).
func stopProcess(cmd *exec.Cmd, done <-chan struct{}) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}
