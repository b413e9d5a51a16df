package snapshot

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
)

// runAll runs every task, at most n at once; after the first error it starts
// no new task, and it returns only once every running call has returned.
func TestRunAll(t *testing.T) {
	ctx := context.Background()
	tasks := make([]int, 100)
	for i := range tasks {
		tasks[i] = i
	}
	var running, peak, done atomic.Int64
	err := runAll(ctx, 4, tasks, func(ctx context.Context, i int) error {
		r := running.Add(1)
		defer running.Add(-1)
		for p := peak.Load(); r > p && !peak.CompareAndSwap(p, r); p = peak.Load() {
		}
		done.Add(1)
		return nil
	})
	if err != nil || done.Load() != 100 || peak.Load() > 4 {
		t.Fatalf("err %v, %d tasks done, %d at once: want nil, 100, at most 4", err, done.Load(), peak.Load())
	}

	boom := errors.New("boom")
	done.Store(0)
	var started atomic.Int64
	err = runAll(ctx, 2, tasks, func(ctx context.Context, i int) error {
		started.Add(1)
		running.Add(1)
		defer running.Add(-1)
		if i == 3 {
			return boom
		}
		if i > 3 {
			<-ctx.Done() // a task running beside the failure sees its context end
			return ctx.Err()
		}
		done.Add(1)
		return nil
	})
	// Two workers: tasks 0-3, and at most one more beside the failing one,
	// start; none after the failure is seen.
	if !errors.Is(err, boom) || running.Load() != 0 || done.Load() != 3 || started.Load() > 6 {
		t.Fatalf("err %v, %d still running, %d done, %d started: want boom, 0, 3, at most 6", err, running.Load(), done.Load(), started.Load())
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := runAll(cctx, 2, tasks, func(context.Context, int) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
}
