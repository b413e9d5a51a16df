package cycle

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// Run tells OnSnapshot of every snapshot it takes and every one that
// fails, for tailerd's snapshot counters.
func TestRunReportsSnapshots(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name          string
		fail          bool
		taken, failed int64
	}{{"taken", false, 1, 0}, {"failed", true, 0, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			var taken, failed atomic.Int64
			r := e.runner(t, e.st, Config{})
			if tc.fail {
				r = e.runner(t, failManifest{e.st}, Config{})
			}
			r.OnSnapshot(func(ok bool) {
				if ok {
					taken.Add(1)
				} else {
					failed.Add(1)
				}
			})
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- r.Run(ctx) }()
			r.Trigger()
			deadline := time.Now().Add(time.Minute)
			for taken.Load()+failed.Load() == 0 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if taken.Load() != tc.taken || failed.Load() != tc.failed {
				t.Fatalf("reported %d taken, %d failed; want %d, %d", taken.Load(), failed.Load(), tc.taken, tc.failed)
			}
		})
	}
}
