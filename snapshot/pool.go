package snapshot

import (
	"context"
	"sync"
)

// runAll calls fn for every task with up to n running at once, in task
// order. The first error cancels the context the others run under, no new
// task starts, and runAll returns that error once every running call has
// returned: no goroutine outlives it, so a caller that goes on (or gives
// up) never races a worker still writing.
func runAll[T any](ctx context.Context, n int, tasks []T, fn func(context.Context, T) error) error {
	if len(tasks) == 0 {
		return ctx.Err()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		once  sync.Once
		first error
		wg    sync.WaitGroup
	)
	queue := make(chan T)
	for range min(n, len(tasks)) {
		wg.Go(func() {
			for t := range queue {
				if ctx.Err() != nil {
					continue // drain: an error already stopped the run
				}
				if err := fn(ctx, t); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		})
	}
feed:
	for _, t := range tasks {
		select {
		case queue <- t:
		case <-ctx.Done():
			break feed
		}
	}
	close(queue)
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}
