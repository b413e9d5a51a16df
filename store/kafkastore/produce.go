package kafkastore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// newAttempt returns a random ID for one put. Frames of one copy share it,
// so concurrent or repeated puts of one name never mix their frames.
func newAttempt() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("attempt id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// acks collects the acknowledgements of produced records. Its channel is
// buffered for every record it will see, so a promise never blocks, even
// when the waiter gave up on ctx.
type acks struct {
	ch      chan error
	pending int
	// first is the offset of the first record produced, set by its
	// promise before it reports on ch, so it may be read after wait.
	first   int64
	started bool // a record was produced
}

func newAcks(capacity int) *acks { return &acks{ch: make(chan error, capacity)} }

// produce hands r to the client; the acknowledgement arrives on a.ch.
// Records of one partition are sent in the order produced, and the
// idempotent producer keeps that order through retries.
func (a *acks) produce(ctx context.Context, cl *kgo.Client, r *kgo.Record) {
	isFirst := !a.started
	a.started = true
	a.pending++
	cl.Produce(ctx, r, func(r *kgo.Record, err error) {
		if isFirst && err == nil {
			a.first = r.Offset
		}
		a.ch <- err
	})
}

// wait waits for n acknowledgements (n <= pending) and returns the first
// error, or ctx's error as soon as ctx is done: a put never reports success
// without Kafka's acknowledgement, and never hangs past its context.
func (a *acks) wait(ctx context.Context, n int) error {
	var first error
	for range n {
		select {
		case err := <-a.ch:
			a.pending--
			if err != nil && first == nil {
				first = explainProduce(err)
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return first
}

// produceAll produces recs in order and waits until Kafka acknowledged every
// one of them (acks=all), or ctx is done. It returns the offset of the
// first.
func (s *Store) produceAll(ctx context.Context, recs []*kgo.Record) (int64, error) {
	a := newAcks(len(recs))
	for _, r := range recs {
		a.produce(ctx, s.cl, r)
	}
	if err := a.wait(ctx, len(recs)); err != nil {
		return 0, err
	}
	return a.first, nil
}

// checkNotCut fails a put that took so long that another process, freeing
// space, may have taken it for abandoned and deleted its first frames
// (see staleAttemptAge): its final frame is then acknowledged but the copy
// can never be read, and it must be put again. Quick puts skip the check.
func (s *Store) checkNotCut(ctx context.Context, topic string, first int64, began time.Time) error {
	if time.Since(began) < s.staleAge/2 {
		return nil
	}
	o, err := s.listOffsets(ctx, topic)
	if err != nil {
		return fmt.Errorf("check the put was not freed: %w", err)
	}
	if o.start > first {
		return fmt.Errorf("the put took longer than %v and another process freed its beginning (log start %d, first frame %d): put it again",
			s.staleAge/2, o.start, first)
	}
	return nil
}

// explainProduce adds the fix to errors an operator must act on.
func explainProduce(err error) error {
	if errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge) {
		return fmt.Errorf("%w (lower MaxMessageBytes to the topic's max.message.bytes, or raise that)", err)
	}
	return err
}
