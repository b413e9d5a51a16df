package testserver

import (
	"context"
	"testing"
	"time"
)

// StartT starts a server for a test and stops it when the test ends. A server
// that cannot be built or started fails the test: tests that need a server
// never skip silently, in CI or anywhere else.
func StartT(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("start FerretDB: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
