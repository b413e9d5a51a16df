// Package testlog collects a daemon's log lines for a test's assertions.
package testlog

import (
	"bytes"
	"strings"
	"sync"

	"github.com/rs/zerolog"
)

// Buffer is a log sink that goroutines write while the test reads.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String is everything logged so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Count is how many times s was logged so far.
func (b *Buffer) Count(s string) int { return strings.Count(b.String(), s) }

// Logger writes JSON lines into b.
func (b *Buffer) Logger() zerolog.Logger { return zerolog.New(b) }
