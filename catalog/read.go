package catalog

import (
	"context"
	"errors"
	"fmt"
	"io"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/segment"
	"github.com/tidelog/tidelog/store"
)

// Read streams the entries of segs, consecutive segments of one window of
// stream, in order. Each segment is verified in full (every checksum, its
// count and range, see segment.Reader) and each must link, by position and
// checksum, to the one before it in segs; a segment that fails either check
// fails the read with an error matching segment.ErrCorrupt.
//
// fn sees each entry as soon as its block verified, before the rest of its
// segment did: a caller that must not act on a damaged range writes to a
// scratch place and commits only once Read returned nil. The link of the
// first segment to its predecessor is not checked (the predecessor is not
// read); its header, which is checksummed, still says where it continues.
func Read(ctx context.Context, st store.Store, stream string, segs []Segment, fn func(entry bson.Raw) error) error {
	return ReadWith(ctx, st, stream, segs, segment.ReaderOptions{}, fn)
}

// ReadWith is Read with reader options: the keys of encrypted segments,
// and whether plaintext ones are refused. An encrypted segment whose key
// is not in opts fails with an error matching segment.ErrKeyRequired or
// segment.ErrWrongKey, naming the segment and its key id.
func ReadWith(ctx context.Context, st store.Store, stream string, segs []Segment, opts segment.ReaderOptions, fn func(entry bson.Raw) error) error {
	var prev *segment.Info
	for _, seg := range segs {
		info, err := readOne(ctx, st, stream, seg.Name, opts, fn)
		if err != nil {
			return err
		}
		if prev != nil && info.Prev != prev.Link() {
			return &segment.CorruptError{Segment: seg.Name, Reason: fmt.Sprintf(
				"does not link to %s: it continues %s (checksum %08x), that segment ends %s (checksum %08x); run `replayer verify`",
				prev.Name, info.Prev.OpEnd, info.Prev.Checksum, prev.OpEnd, prev.Checksum)}
		}
		prev = &info
	}
	return nil
}

func readOne(ctx context.Context, st store.Store, stream, name string, opts segment.ReaderOptions, fn func(bson.Raw) error) (segment.Info, error) {
	rc, err := st.OpenSegment(ctx, stream, name)
	if err != nil {
		return segment.Info{}, fmt.Errorf("open %s/%s in %s: %w", stream, name, st, err)
	}
	defer rc.Close()
	r, err := segment.NewReaderWith(rc, name, opts)
	if err != nil {
		return segment.Info{}, err
	}
	for {
		if err := ctx.Err(); err != nil {
			return segment.Info{}, err
		}
		entry, err := r.Next()
		if errors.Is(err, io.EOF) {
			return r.Info(), nil
		}
		if err != nil {
			return segment.Info{}, err
		}
		if err := fn(entry); err != nil {
			return segment.Info{}, err
		}
	}
}
