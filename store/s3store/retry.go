package s3store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/tidelog/tidelog/store"
)

// retrier runs one operation with bounded retries of transient failures.
type retrier struct {
	retries   int // retries after the first attempt; 0 disables them
	base, max time.Duration
	onRetry   func(RetryEvent)
}

// do calls fn until it succeeds, fails permanently (see transient), the
// retries are used up, or ctx ends. fn receives ctx and must make one
// attempt. The returned error names op and, when ctx ended the waiting, wraps
// both the context's error and the last attempt's, so the caller sees that
// it gave up and why the attempts failed.
func (r retrier) do(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	var cause error // the last attempt's error that was not just ctx ending
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return r.ended(ctx, attempt-1, cause)
		}
		err := fn(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			// An attempt cut short by ctx fails with ctx's error alone;
			// the attempt before it, if any, tells why the server did not answer.
			if cause == nil || !errors.Is(err, ctx.Err()) {
				cause = err
			}
			return r.ended(ctx, attempt, cause)
		}
		cause = err
		if !transient(err) {
			return explain(err)
		}
		if attempt > r.retries {
			return fmt.Errorf("gave up after %d attempts: %w", attempt, unavailableError{explain(err)})
		}
		delay := r.delay(attempt)
		if r.onRetry != nil {
			r.onRetry(RetryEvent{Op: op, Attempt: attempt, Delay: delay, Err: explain(err)})
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return r.ended(ctx, attempt, cause)
		}
	}
}

// ended is the error when ctx ends the attempts: it wraps ctx's error and,
// if an attempt was made, the last cause.
func (r retrier) ended(ctx context.Context, attempts int, cause error) error {
	if cause == nil || errors.Is(cause, ctx.Err()) && attempts <= 1 {
		return ctx.Err()
	}
	return fmt.Errorf("%w (after %d attempt(s); last: %w)", ctx.Err(), attempts, explain(cause))
}

// delay is the wait after the attempt-th failure: "equal jitter", a random
// duration between half and all of min(max, base·2^(attempt-1)). The jitter
// spreads the retries of many writers hit by the same outage; the lower half
// keeps the total budget predictable.
func (r retrier) delay(attempt int) time.Duration {
	d := r.max
	if shift := attempt - 1; shift < 32 && r.base<<shift < r.max && r.base<<shift > 0 {
		d = r.base << shift
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// unavailableError marks the last error of retries given up on transient
// failures as store.ErrUnavailable, its message unchanged: one rule
// (transient) decides both what is retried here and what a caller may wait
// out.
type unavailableError struct{ err error }

func (e unavailableError) Error() string        { return e.err.Error() }
func (e unavailableError) Unwrap() error        { return e.err }
func (e unavailableError) Is(target error) bool { return target == store.ErrUnavailable }
