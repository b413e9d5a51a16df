package chaos

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// The spool lives on a small filesystem of its own so that the harness can
// fill it and make tailerd's writes fail with ENOSPC, as a full disk does.
// A tmpfs needs CAP_SYS_ADMIN: as root it is mounted in place; otherwise the
// test runs again inside new user and mount namespaces (where the test is
// root of its own mounts), and if neither works it fails, saying why:
// skipping would hide the fault.

// userNSEnv marks the run inside the namespaces (no second re-run).
const userNSEnv = "TIDELOG_CHAOS_IN_USERNS"

// forceUserNSEnv makes a run that could mount go through the namespaces
// anyway, to test that path.
const forceUserNSEnv = "CHAOS_FORCE_USERNS"

// mountSmallFS mounts a tmpfs of sizeMiB at dir (created) and unmounts it
// when the test ends. It returns errMountPermission when mounting is not
// allowed.
func mountSmallFS(t *testing.T, dir string, sizeMiB int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if os.Getenv(forceUserNSEnv) != "" && os.Getenv(userNSEnv) == "" {
		return errMountPermission
	}
	err := syscall.Mount("tidelog-chaos", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "size="+strconv.Itoa(sizeMiB)+"m")
	if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
		return errMountPermission
	}
	if err != nil {
		return fmt.Errorf("mount a %d MiB tmpfs at %s: %w", sizeMiB, dir, err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	return nil
}

var errMountPermission = errors.New("mounting a tmpfs is not permitted")

// rerunInUserNS runs this test again in new user and mount namespaces,
// mapping the current user to root there, and fails t if that run fails.
// Its output is passed through with its test result lines renamed, so that
// counters of "--- PASS" lines count the test once.
func rerunInUserNS(t *testing.T) {
	t.Helper()
	if os.Getenv(userNSEnv) != "" {
		t.Fatal("cannot mount a tmpfs for the spool even inside a user namespace: run as root, or allow unprivileged user namespaces " +
			"(sysctl kernel.unprivileged_userns_clone=1 / user.max_user_namespaces > 0); the disk-full fault needs a small filesystem")
	}
	args := []string{"-test.run=^" + t.Name() + "$", "-test.v", "-test.count=1"}
	if d, ok := t.Deadline(); ok {
		args = append(args, "-test.timeout="+strconv.Itoa(int(time.Until(d).Seconds()))+"s")
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), userNSEnv+"=1", binDirEnv+"="+binDir)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:                 syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
		UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
		GidMappingsEnableSetgroups: false,
	}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		relabel(pr, os.Stdout)
	}()
	err := cmd.Run()
	pw.Close()
	<-copied
	if err != nil {
		t.Fatalf("the run inside user and mount namespaces failed: %v (its output is above, prefixed [userns])", err)
	}
}

// relabel copies r to w line by line, prefixing each line.
func relabel(r io.Reader, w io.Writer) {
	buf := make([]byte, 64<<10)
	var pending []byte
	for {
		n, err := r.Read(buf)
		pending = append(pending, buf[:n]...)
		for {
			i := bytes.IndexByte(pending, '\n')
			if i < 0 {
				break
			}
			fmt.Fprintf(w, "[userns] %s\n", pending[:i])
			pending = pending[i+1:]
		}
		if err != nil {
			if len(pending) > 0 {
				fmt.Fprintf(w, "[userns] %s\n", pending)
			}
			return
		}
	}
}

// fillFS writes a file in dir until the filesystem has no room left (ENOSPC),
// and returns its path and size.
func fillFS(dir string) (string, int64, error) {
	path := filepath.Join(dir, "filler")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	var size int64
	for chunk := 1 << 20; chunk >= 512; {
		n, err := f.Write(make([]byte, chunk))
		size += int64(n)
		switch {
		case err == nil:
			continue
		case errors.Is(err, syscall.ENOSPC):
			chunk /= 2 // the last pages: fill them too
		default:
			return path, size, fmt.Errorf("fill %s: %w", dir, err)
		}
	}
	return path, size, nil
}

// freeFS removes what fillFS wrote.
func freeFS(path string) error {
	return os.Remove(path)
}
