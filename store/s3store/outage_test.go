package s3store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/store"
)

func readSegment(t *testing.T, s store.Store, stream, name string) []byte {
	t.Helper()
	rc, err := s.OpenSegment(context.Background(), stream, name)
	if err != nil {
		t.Fatalf("OpenSegment: %v", err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return data
}

const seg2 = "0001700000.0000000010-0001700000.0000000020.tseg"

// While the server is down, calls with a short context fail within it, with
// an error that says why (the connection was refused) and what was being
// done; once the server is back, puts succeed and what was written before
// the outage is intact.
func TestOutage(t *testing.T) {
	m := testserver.StartMinIOT(t, testserver.MinIOOptions{})
	cfg := config(m, newBucket(t, m))
	cfg.MaxRetries = 1000 // only the context ends the attempts
	s := openStore(t, cfg)
	before := bytes.Repeat([]byte("before"), 1000)
	if err := s.PutSegment(context.Background(), "rs0", seg1, before); err != nil {
		t.Fatal(err)
	}

	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		op   string
		call func(ctx context.Context) error
	}{
		{"put segment rs0/" + seg2, func(ctx context.Context) error { return s.PutSegment(ctx, "rs0", seg2, []byte("during")) }},
		{"open segment rs0/" + seg1, func(ctx context.Context) error {
			rc, err := s.OpenSegment(ctx, "rs0", seg1)
			if err == nil {
				rc.Close()
			}
			return err
		}},
		{"list segments of rs0", func(ctx context.Context) error { _, err := s.Segments(ctx, "rs0"); return err }},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		start := time.Now()
		err := tc.call(ctx)
		took := time.Since(start)
		cancel()
		if err == nil {
			t.Fatalf("%s succeeded with the server down", tc.op)
		}
		if !errors.Is(err, context.DeadlineExceeded) || took > 5*time.Second {
			t.Fatalf("%s: after %v: %v; want the context's deadline within it", tc.op, took, err)
		}
		if msg := err.Error(); !strings.Contains(msg, "connection refused") || !strings.Contains(msg, tc.op) || !strings.Contains(msg, s.String()[len("s3:"):]) {
			t.Fatalf("%s: message lacks the cause, the operation or the store: %s", tc.op, msg)
		}
	}

	if err := m.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSegment(context.Background(), "rs0", seg2, []byte("after")); err != nil {
		t.Fatalf("put after the restart: %v", err)
	}
	if got := readSegment(t, s, "rs0", seg1); !bytes.Equal(got, before) {
		t.Fatalf("segment written before the outage reads %d bytes, want the %d written", len(got), len(before))
	}
	if got := readSegment(t, s, "rs0", seg2); string(got) != "after" {
		t.Fatalf("segment written after the outage reads %q", got)
	}
}

// A put that starts while the server is down succeeds once the server comes
// back within the retry budget, and each retry is reported.
func TestRetryRidesOutOutage(t *testing.T) {
	m := testserver.StartMinIOT(t, testserver.MinIOOptions{})
	retries := make(chan RetryEvent, 1000)
	cfg := config(m, newBucket(t, m))
	cfg.MaxRetries, cfg.RetryBaseDelay, cfg.RetryMaxDelay = 100, 20*time.Millisecond, 200*time.Millisecond
	cfg.OnRetry = func(e RetryEvent) { retries <- e }
	s := openStore(t, cfg)
	if err := s.PutSegment(context.Background(), "rs0", seg1, []byte("before")); err != nil {
		t.Fatal(err)
	}
	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	data := bytes.Repeat([]byte("x"), MinPartSize+100) // a multipart upload
	done := make(chan error, 1)
	go func() { done <- s.PutSegment(ctx, "rs0", seg2, data) }()

	// The put has failed and is waiting to retry: bring the server back.
	var first RetryEvent
	select {
	case first = <-retries:
	case err := <-done:
		t.Fatalf("put returned %v with the server down", err)
	case <-ctx.Done():
		t.Fatal("no retry reported in a minute")
	}
	if !strings.Contains(first.Op, "put segment rs0/"+seg2) || first.Attempt != 1 || !strings.Contains(first.Err.Error(), "connection refused") {
		t.Fatalf("first retry event %+v", first)
	}
	if err := m.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("put across the outage: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("put did not finish within a minute of the restart")
	}
	if got := readSegment(t, s, "rs0", seg2); !bytes.Equal(got, data) {
		t.Fatalf("segment put across the outage reads %d bytes, want %d", len(got), len(data))
	}
	if got := readSegment(t, s, "rs0", seg1); string(got) != "before" {
		t.Fatalf("segment put before the outage reads %q", got)
	}
}

// With retries used up, a put fails by itself (no context needed), saying so.
func TestRetriesBounded(t *testing.T) {
	m := testserver.StartMinIOT(t, testserver.MinIOOptions{})
	cfg := config(m, newBucket(t, m))
	cfg.MaxRetries = 2
	s := openStore(t, cfg)
	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}
	err := s.PutSegment(context.Background(), "rs0", seg1, []byte("x"))
	if err == nil || !strings.Contains(err.Error(), "gave up after 3 attempts") {
		t.Fatalf("put with the server down: %v, want gave up after 3 attempts", err)
	}
}

// Permanent errors fail at once, however large the retry budget, and say
// what to do; the secret never shows.
func TestPermanentErrorsFailFast(t *testing.T) {
	m := testserver.StartMinIOT(t, testserver.MinIOOptions{})
	bucket := newBucket(t, m)
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"WrongSecret", func(c *Config) { c.SecretKey = "wrong-secret-do-not-print" }, "the secret key does not match"},
		{"UnknownAccessKey", func(c *Config) { c.AccessKey = "nobody" }, "does not know this access key"},
		{"NoSuchBucket", func(c *Config) { c.Bucket = "missing-bucket" }, "create it first"},
		{"PlainHTTPAsTLS", func(c *Config) { c.Endpoint = "https://" + m.Endpoint(); c.CAFile = "" }, "speaks plain HTTP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config(m, bucket)
			cfg.MaxRetries, cfg.RetryBaseDelay, cfg.RetryMaxDelay = 100, time.Second, time.Second
			tc.edit(&cfg)
			start := time.Now()
			_, err := Open(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open: %v; want %q", err, tc.want)
			}
			if took := time.Since(start); took > 3*time.Second {
				t.Fatalf("a permanent error took %v: retried", took)
			}
			if strings.Contains(err.Error(), m.SecretKey()) || strings.Contains(err.Error(), "wrong-secret-do-not-print") {
				t.Fatalf("error shows the secret: %v", err)
			}
		})
	}
}
