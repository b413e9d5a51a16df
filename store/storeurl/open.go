package storeurl

import (
	"context"
	"fmt"
	"io"

	"github.com/tidelog/tidelog/store"
	"github.com/tidelog/tidelog/store/dirstore"
	"github.com/tidelog/tidelog/store/kafkastore"
	"github.com/tidelog/tidelog/store/s3store"
)

// Options say how a location is opened.
type Options struct {
	// Create lets a writer (tailerd) make a new store in an empty
	// directory, bucket or prefix; readers (replayer) leave it false so
	// that a mistyped location fails instead of reading as an empty store.
	// Kafka stores need no creation: topics are made at the first write.
	Create bool
	// OnS3Retry, if set, is told of each failed S3 request before it is
	// retried, so that a daemon can log an outage as it happens rather
	// than only when the retry budget runs out.
	OnS3Retry func(s3store.RetryEvent)
}

// Open parses raw (see Parse) and opens the store it names. Close the
// store with Close when done: some hold connections.
func Open(ctx context.Context, raw string, opts Options) (store.Store, error) {
	loc, err := Parse(raw)
	if err != nil {
		return nil, err
	}
	return loc.Open(ctx, opts)
}

// Open opens the store at l. Errors from the store (unreachable, not a
// tidelog store, store.ErrNotExist for an empty location without Create)
// are returned wrapped, as the store made them.
func (l Location) Open(ctx context.Context, opts Options) (store.Store, error) {
	switch l.Kind {
	case Dir:
		st, err := dirstore.Open(l.Path, opts.Create)
		if err != nil {
			return nil, err
		}
		return st, nil
	case S3:
		cfg := l.S3
		cfg.Create, cfg.OnRetry = opts.Create, opts.OnS3Retry
		st, err := s3store.Open(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return st, nil
	case Kafka:
		st, err := kafkastore.Open(ctx, l.Kafka)
		if err != nil {
			return nil, err
		}
		if opts.Create {
			return st, nil // topics are created on the first write
		}
		has, err := st.HasTopics(ctx)
		if err == nil && !has {
			err = fmt.Errorf("%s: no topics under this prefix (is the location mistyped?): %w", st, store.ErrNotExist)
		}
		if err != nil {
			_ = st.Close()
			return nil, err
		}
		return st, nil
	}
	return nil, fmt.Errorf("%w: kind %q", ErrInvalid, l.Kind)
}

// Close releases what st holds (a Kafka store's connections; a directory
// or S3 store holds nothing to release). Puts still waiting fail.
func Close(st store.Store) error {
	if c, ok := st.(io.Closer); ok {
		if err := c.Close(); err != nil {
			return fmt.Errorf("close store %s: %w", st, err)
		}
	}
	return nil
}
