package s3store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/tidelog/tidelog/store"
)

func TestTransient(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{refused, true},
		{fmt.Errorf("put: %w", io.ErrUnexpectedEOF), true},
		{minio.ErrorResponse{Code: "SlowDown", StatusCode: 503}, true},
		{minio.ErrorResponse{Code: "InternalError", StatusCode: 500}, true},
		{minio.ErrorResponse{Code: "SomethingNew", StatusCode: 502}, true},
		{minio.ErrorResponse{Code: "SomethingNew", StatusCode: http.StatusTooManyRequests}, true},
		{minio.ErrorResponse{Code: "BadDigest", StatusCode: 400}, true},
		{minio.ErrorResponse{Code: "AccessDenied", StatusCode: 403}, false},
		{minio.ErrorResponse{Code: "NoSuchBucket", StatusCode: 404}, false},
		{minio.ErrorResponse{Code: "NoSuchKey", StatusCode: 404}, false},
		{minio.ErrorResponse{Code: "RequestTimeTooSkewed", StatusCode: 403}, false},
		{errors.New("http: server gave HTTP response to HTTPS client"), false},
		{errors.New("some local mistake"), false},
	} {
		if got := transient(tc.err); got != tc.want {
			t.Errorf("transient(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	msg := explain(minio.ErrorResponse{Code: "AccessDenied", StatusCode: 403, Message: "Access Denied."}).Error()
	if !strings.Contains(msg, "s3:PutObject") || !strings.Contains(msg, "AccessDenied") || !strings.Contains(msg, "Access Denied.") {
		t.Errorf("AccessDenied explained as %q", msg)
	}
}

// The waits grow from the base to the cap, each between half and all of
// its step.
func TestRetryDelay(t *testing.T) {
	r := retrier{retries: 50, base: 100 * time.Millisecond, max: 2 * time.Second}
	for attempt := 1; attempt <= 50; attempt++ {
		step := min(r.max, r.base<<min(attempt-1, 20))
		for range 20 {
			if d := r.delay(attempt); d < step/2 || d > step {
				t.Fatalf("delay(%d) = %v, want within [%v, %v]", attempt, d, step/2, step)
			}
		}
	}
}

// Transient errors are retried up to the budget, permanent ones not at all,
// and a context that ends stops the waiting at once.
func TestRetrier(t *testing.T) {
	ctx := context.Background()
	transientErr := minio.ErrorResponse{Code: "SlowDown", StatusCode: 503}
	r := retrier{retries: 3, base: time.Millisecond, max: time.Millisecond}
	calls := 0
	err := r.do(ctx, "op", func(context.Context) error { calls++; return transientErr })
	if calls != 4 || err == nil || !strings.Contains(err.Error(), "gave up after 4 attempts") || !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("%d calls, %v; want 4 and gave up, the store unavailable", calls, err)
	}
	// A server that accepts the connection and closes it is retried too,
	// and unavailable once given up.
	closed := &url.Error{Op: "Get", URL: "http://127.0.0.1:9/b/", Err: io.EOF}
	if err := r.do(ctx, "op", func(context.Context) error { return closed }); !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, io.EOF) {
		t.Fatalf("connection closed: %v; want the store unavailable, wrapping the cause", err)
	}
	calls = 0
	err = r.do(ctx, "op", func(context.Context) error {
		calls++
		if calls < 3 {
			return transientErr
		}
		return nil
	})
	if calls != 3 || err != nil {
		t.Fatalf("%d calls, %v; want success at the third", calls, err)
	}
	calls = 0
	err = r.do(ctx, "op", func(context.Context) error {
		calls++
		return minio.ErrorResponse{Code: "AccessDenied", StatusCode: 403}
	})
	if calls != 1 || s3Code(err) != "AccessDenied" || errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("%d calls, %v; want one and AccessDenied, not unavailable", calls, err)
	}

	slow := retrier{retries: 100, base: time.Hour, max: time.Hour}
	tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = slow.do(tctx, "op", func(context.Context) error { return transientErr })
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "SlowDown") || time.Since(start) > 5*time.Second {
		t.Fatalf("after %v: %v; want the deadline and the last cause", time.Since(start), err)
	}
	cctx, ccancel := context.WithCancel(ctx)
	ccancel()
	calls = 0
	if err := r.do(cctx, "op", func(context.Context) error { calls++; return nil }); !errors.Is(err, context.Canceled) || calls != 0 {
		t.Fatalf("done context: %d calls, %v", calls, err)
	}
}
