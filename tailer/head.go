package tailer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/segment"
)

// storedHead is the head segment as read from the store once at start:
// its header, for checkEncryption, and in poll mode the positions of its
// entries, for seedRecheck. One read serves both: on S3 or Kafka each
// read is a request, and the head may be 16 MiB.
type storedHead struct {
	header   segment.Header
	times    []oplog.Timestamp
	timesErr error // why times is missing, when it was asked for
}

// readHead reads stored segment name: its header, and its entries'
// positions when withTimes. The error is about the header; one reading
// the entries is in timesErr.
func (t *Tailer) readHead(ctx context.Context, name string, withTimes bool) (storedHead, error) {
	if !withTimes {
		h, err := t.storedHeader(ctx, name)
		return storedHead{header: h}, err
	}
	rc, err := t.store.OpenSegment(ctx, t.stream, name)
	if err != nil {
		return storedHead{}, fmt.Errorf("open %s/%s in %s: %w", t.stream, name, t.store, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return storedHead{}, fmt.Errorf("read %s/%s in %s: %w", t.stream, name, t.store, err)
	}
	h, err := t.parseHeader(bytes.NewReader(data), name)
	if err != nil {
		return storedHead{}, err
	}
	hs := storedHead{header: h}
	hs.times, hs.timesErr = t.segmentTimes(bytes.NewReader(data), name)
	return hs, nil
}

// storedHeader reads the header of stored segment name.
func (t *Tailer) storedHeader(ctx context.Context, name string) (segment.Header, error) {
	rc, err := t.store.OpenSegment(ctx, t.stream, name)
	if err != nil {
		return segment.Header{}, fmt.Errorf("open %s/%s in %s: %w", t.stream, name, t.store, err)
	}
	defer rc.Close()
	return t.parseHeader(rc, name)
}

func (t *Tailer) parseHeader(r io.Reader, name string) (segment.Header, error) {
	h, _, err := segment.ReadHeader(r)
	if errors.Is(err, segment.ErrCorrupt) {
		return segment.Header{}, fmt.Errorf("%w: store %s: segment %s/%s: %w; run `replayer verify`", ErrStoreMismatch, t.store, t.stream, name, err)
	}
	if err != nil {
		return segment.Header{}, fmt.Errorf("read the header of %s/%s in %s: %w", t.stream, name, t.store, err)
	}
	return h, nil
}
