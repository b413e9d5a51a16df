// Package tailer follows one replica set's oplog and turns it into durable,
// chained segments: read entries as raw BSON, cut them into segments by size
// and age, put each segment in the store, and only then commit it to the
// checkpoint. It never skips or reorders an entry: a lost stretch of oplog is
// a recorded gap and an error, never a silent jump.
package tailer

import (
	"fmt"
	"time"

	"github.com/tidelog/tidelog/crypt"
	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/segment"
)

// Defaults, chosen as WAL-G and PBM users expect: segments small enough to
// restore with fine granularity, large enough to compress well.
const (
	DefaultCutBytes = 16 << 20
	DefaultCutAge   = 10 * time.Second

	pollLimit   = 10000
	awaitTime   = time.Second
	minBackoff  = 50 * time.Millisecond
	maxBackoff  = time.Second
	maxRetryGap = 5 * time.Second
)

// StartAt says where a stream with no checkpoint begins.
type StartAt struct {
	// Oldest: the oldest entry the oplog still holds (the default: the most history).
	Oldest bool
	// Latest: only entries written after tailerd starts.
	Latest bool
	// At: the first entry at or after this position; the oplog must reach back to it.
	At oplog.Timestamp
}

// ParseStartAt reads "oldest", "latest" or a timestamp (see oplog.Parse).
func ParseStartAt(s string) (StartAt, error) {
	switch s {
	case "", "oldest":
		return StartAt{Oldest: true}, nil
	case "latest":
		return StartAt{Latest: true}, nil
	}
	ts, err := oplog.Parse(s)
	if err != nil {
		return StartAt{}, fmt.Errorf("start position: %w (or oldest, latest)", err)
	}
	return StartAt{At: ts}, nil
}

// Config tunes one tailer.
type Config struct {
	// Stream names the stream in the store; empty: the replica set name.
	Stream string
	// CutBytes cuts a segment once its raw entries reach this size.
	CutBytes int
	// CutAge cuts a segment this long after its first entry arrived.
	CutAge time.Duration
	// Cursor is how the oplog is read (auto, tailable, poll).
	Cursor CursorMode
	// BatchSize is the cursor batch size (0: server default).
	BatchSize int32
	// Start applies only when the checkpoint has no position for the stream.
	Start StartAt
	// AcceptGap lets the tailer start a new chain at the oldest available
	// entry after recording a gap, instead of stopping. The gap stays recorded.
	AcceptGap bool
	// ProbeEvery is how often the oplog's oldest and newest entries are
	// read for the lag and headroom figures (Stats).
	ProbeEvery time.Duration
	// PollSettle is how old (by its wall time) an entry must be before poll
	// mode passes it on, so that entries a server makes visible out of ts
	// order are not skipped (settle.go). 0: 500ms. Negative: off, which is
	// safe only with a single writer on the source.
	PollSettle time.Duration
	// Recheck is how long poll mode looks again for entries that appeared
	// behind its position (0: 3s).
	Recheck time.Duration
	// Keys, when it holds a key, encrypts every new segment with its
	// primary key; every key of it decrypts the segments the tailer reads
	// back (its head after a restart, segments it adopts). Plaintext
	// segments are still read, so a chain may go from plaintext to
	// encrypted, never back: a plaintext segment after an encrypted one is
	// never adopted, and a tailer without keys does not continue an
	// encrypted chain. Nil: plaintext segments.
	Keys *crypt.Keyring
}

// readOptions is how the tailer reads its own segments back: with its keys,
// and accepting plaintext, which a chain started before encryption holds
// (reconcile refuses plaintext once the chain is encrypted).
func (c Config) readOptions() segment.ReaderOptions {
	return segment.ReaderOptions{Keys: c.Keys}
}

func (c Config) withDefaults() Config {
	if c.CutBytes <= 0 {
		c.CutBytes = DefaultCutBytes
	}
	if c.CutAge <= 0 {
		c.CutAge = DefaultCutAge
	}
	if c.PollSettle == 0 {
		c.PollSettle = defaultPollSettle
	}
	if c.Recheck <= 0 {
		c.Recheck = defaultRecheck
	}
	if c.ProbeEvery <= 0 {
		c.ProbeEvery = 10 * time.Second
	}
	if c.Cursor == "" {
		c.Cursor = CursorAuto
	}
	return c
}
