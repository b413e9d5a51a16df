// Command demo shows tidelog end to end on this machine: it starts a source
// and a target FerretDB, tails the source with tailerd into ./demo-data/store
// while a writer changes data, restores a mid-point timestamp into the target
// with replayer, and checks the target equals the source as it was then.
//
//	make demo   (or: go run ./internal/demo)
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/internal/workload"
	"github.com/tidelog/tidelog/oplog"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

func step(format string, args ...any) { fmt.Printf("==> "+format+"\n", args...) }

func run(ctx context.Context) error {
	root, _ := filepath.Abs("demo-data")
	if err := os.RemoveAll(root); err != nil {
		return err
	}
	bin := filepath.Join(root, "bin")
	for _, name := range []string{"tailerd", "replayer"} {
		step("building %s", name)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(bin, name), "./cmd/"+name)
		cmd.Dir, cmd.Stdout, cmd.Stderr = testserver.RepoRoot(), os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build %s: %w", name, err)
		}
	}

	step("starting the source and the target FerretDB (built once into ~/.cache/tidelog)")
	src, err := startServer(ctx, filepath.Join(root, "source"), false)
	if err != nil {
		return err
	}
	defer src.Stop()
	dst, err := startServer(ctx, filepath.Join(root, "target"), true)
	if err != nil {
		return err
	}
	defer dst.Stop()
	client, err := src.Client()
	if err != nil {
		return err
	}
	defer client.Disconnect(context.WithoutCancel(ctx))

	store := filepath.Join(root, "store")
	step("starting tailerd: %s -> %s", src.URI, store)
	tailerdLog, err := os.Create(filepath.Join(root, "tailerd.log"))
	if err != nil {
		return err
	}
	defer tailerdLog.Close()
	tailerd := exec.Command(filepath.Join(bin, "tailerd"), "--source", src.URI, "--store", store, "--cut-age", "1s")
	tailerd.Stdout, tailerd.Stderr = tailerdLog, tailerdLog
	if err := tailerd.Start(); err != nil {
		return err
	}
	defer tailerd.Process.Kill()

	w := workload.New(client, uint64(time.Now().UnixNano()))
	step("writing: inserts, updates and deletes across %v", workload.Namespaces)
	if err := w.Step(ctx, 400); err != nil {
		return err
	}
	if err := w.Bulk(ctx, "app.events", 2000); err != nil {
		return err
	}
	mid, err := src.LastTS(ctx, client)
	if err != nil {
		return err
	}
	want, err := workload.Dump(ctx, client)
	if err != nil {
		return err
	}
	midTS := oplog.Timestamp{T: mid.T, I: mid.I}
	step("mid-point recorded: %s, %d documents", midTS, want.Documents())
	if err := w.Step(ctx, 400); err != nil {
		return err
	}
	end, err := src.LastTS(ctx, client)
	if err != nil {
		return err
	}
	after, err := workload.Dump(ctx, client)
	if err != nil {
		return err
	}
	step("kept writing to %s: %d writes in all, the source now holds %d documents", oplog.Timestamp{T: end.T, I: end.I}, w.Writes, after.Documents())

	step("waiting for tailerd to store everything up to %s", oplog.Timestamp{T: end.T, I: end.I})
	if err := waitCaptured(ctx, bin, store, oplog.Timestamp{T: end.T, I: end.I}); err != nil {
		return err
	}
	step("stopping tailerd with SIGTERM (cuts and commits the open segment)")
	tailerd.Process.Signal(syscall.SIGTERM)
	if err := tailerd.Wait(); err != nil {
		return fmt.Errorf("tailerd: %w (log: %s)", err, tailerdLog.Name())
	}

	if err := show(ctx, bin, "list", "--store", store); err != nil {
		return err
	}
	if err := show(ctx, bin, "verify", "--store", store); err != nil {
		return err
	}
	step("restoring the mid-point %s into the target %s", midTS, dst.URI)
	if err := show(ctx, bin, "restore", "--store", store, "--target", dst.URI, "--to", midTS.String()); err != nil {
		return err
	}
	tc, err := dst.Client()
	if err != nil {
		return err
	}
	defer tc.Disconnect(context.WithoutCancel(ctx))
	got, err := workload.Dump(ctx, tc)
	if err != nil {
		return err
	}
	if d := workload.Diff(want, got); d != "" {
		return fmt.Errorf("the target differs from the source at %s:\n%s", midTS, d)
	}
	step("OK: the target equals the source as it was at %s, document for document (%d documents; the source has %d now)",
		midTS, got.Documents(), after.Documents())
	return nil
}

func startServer(ctx context.Context, dir string, target bool) (*testserver.Server, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return testserver.Start(ctx, testserver.Options{Dir: dir, NoOplog: target})
}

func show(ctx context.Context, bin string, args ...string) error {
	fmt.Printf("\n$ replayer %s\n", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "replayer"), args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("replayer %s: %w", args[0], err)
	}
	fmt.Println()
	return nil
}

// waitCaptured polls `replayer list` until the store reaches ts (60 s at most).
func waitCaptured(ctx context.Context, bin, store string, ts oplog.Timestamp) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		out, err := exec.CommandContext(ctx, filepath.Join(bin, "replayer"), "list", "--store", store, "--json").Output()
		if err == nil {
			if to, ok := restorableTo(out); ok && !to.Before(ts) {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return errors.New("tailerd did not capture the writes within 60s; see demo-data/tailerd.log")
}
