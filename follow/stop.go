package follow

import (
	"context"
	"time"
)

// stopGrace bounds how long a stop (SIGINT, SIGTERM: the Run context
// ending) waits for the apply under way to finish and commit.
const stopGrace = 30 * time.Second

// graceful returns a context for the follower's work that outlives ctx by
// up to grace: a stop lets the cycle under way write, settle and commit,
// rather than abandon writes the next start would only redo. The returned
// cancel releases it.
func graceful(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	work, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(grace, cancel)
		context.AfterFunc(work, func() { t.Stop() })
	})
	return work, func() {
		stop()
		cancel()
	}
}

// sleep waits d or until ctx ends; false when ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
