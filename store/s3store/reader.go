package s3store

import (
	"context"
	"errors"
	"io"
	"strconv"

	"github.com/minio/minio-go/v7"
)

// resumingReader reads one object and, when the connection breaks part way
// (a reset, a cut, a restarted server), asks again for the rest: a ranged GET
// from the first byte not yet read, on condition that the object is still
// the one it began reading (If-Match on its ETag). A snapshot file of many
// gigabytes need not be read again from the start, and a reader never gets
// the tail of another version of the object. Resumes share the store's retry
// budget: at most MaxRetries of them per object.
type resumingReader struct {
	s   *Store
	ctx context.Context
	op  string
	key string

	body    io.ReadCloser // nil once closed
	etag    string        // of the object first opened
	off     int64         // bytes returned so far
	resumes int
}

var errClosed = errors.New("read after close")

// request (re)opens the body at r.off.
func (r *resumingReader) request() error {
	opts := minio.GetObjectOptions{}
	if r.etag != "" {
		if err := opts.SetMatchETag(r.etag); err != nil {
			return err
		}
		if r.off > 0 {
			if err := opts.SetRange(r.off, 0); err != nil {
				return err
			}
		}
	}
	return r.s.retry.do(r.ctx, r.op, func(ctx context.Context) error {
		body, info, _, err := r.s.core.GetObject(ctx, r.s.bucket, r.key, opts)
		if err != nil {
			return err
		}
		if r.etag == "" {
			r.etag = info.ETag
		}
		r.body = body
		return nil
	})
}

func (r *resumingReader) Read(p []byte) (int, error) {
	for {
		if r.body == nil {
			return 0, r.s.fail(r.op, errClosed)
		}
		n, err := r.body.Read(p)
		r.off += int64(n)
		if err == nil || err == io.EOF {
			return n, err
		}
		if !transient(err) || r.ctx.Err() != nil || r.resumes >= r.s.retry.retries || r.etag == "" {
			return n, r.s.fail(r.op+": read", err)
		}
		r.resumes++
		_ = r.body.Close()
		r.body = nil
		if rerr := r.request(); rerr != nil {
			return n, r.s.fail(r.op+": resume read at byte "+strconv.FormatInt(r.off, 10), rerr)
		}
		if n > 0 {
			return n, nil
		}
	}
}

// Close releases the connection.
func (r *resumingReader) Close() error {
	if r.body == nil {
		return nil
	}
	err := r.body.Close()
	r.body = nil
	return err
}
