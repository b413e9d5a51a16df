package s3store

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/minio/minio-go/v7"
)

// The object primitives the Store's methods are made of. Each makes its
// requests through s.retry, so each is bounded and honours ctx.

// readSmall returns the whole object at key, refusing one larger than limit.
// The body is read inside the retried attempt, so a connection cut while
// reading is retried too.
func (s *Store) readSmall(ctx context.Context, op, key string, limit int64) ([]byte, error) {
	var data []byte
	err := s.retry.do(ctx, op, func(ctx context.Context) error {
		rc, _, _, err := s.core.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
		if err != nil {
			return err
		}
		defer rc.Close()
		data, err = io.ReadAll(io.LimitReader(rc, limit+1))
		return err
	})
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: object %s is larger than %d bytes", op, key, limit)
	}
	return data, nil
}

// list returns the names under prefix (the keys with prefix cut off) that
// pass keep (nil keeps all), in the server's order, which S3 defines as
// ascending by UTF-8 bytes. Without recursive, keys deeper than one level
// are rolled up into "dir/" entries. limit > 0 stops after that many names.
// A retry lists again from the start.
func (s *Store) list(ctx context.Context, op, prefix string, recursive bool, keep func(string) bool, limit int) ([]string, error) {
	var names []string
	noOwner := false
	err := s.retry.do(ctx, op, func(ctx context.Context) error {
		names = names[:0]
		opts := minio.ListObjectsOptions{Prefix: prefix, Recursive: recursive, FetchOwner: &noOwner}
		for obj := range s.client.ListObjectsIter(ctx, s.bucket, opts) {
			if obj.Err != nil {
				return obj.Err
			}
			name := strings.TrimPrefix(obj.Key, prefix)
			if keep != nil && !keep(name) {
				continue
			}
			names = append(names, name)
			if limit > 0 && len(names) >= limit {
				break
			}
		}
		// The iterator ends silently when ctx does: never take that for the end.
		return ctx.Err()
	})
	return names, err
}

// remove deletes key; a missing key is not an error (S3 says so too).
func (s *Store) remove(ctx context.Context, op, key string) error {
	return s.retry.do(ctx, op, func(ctx context.Context) error {
		err := s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{})
		if s3Code(err) == codeNoSuchKey {
			return nil
		}
		return err
	})
}

// open starts reading the object at key. The body resumes after a broken
// connection (see resumingReader). The error of a missing object has code
// NoSuchKey.
func (s *Store) open(ctx context.Context, op, key string) (io.ReadCloser, error) {
	r := &resumingReader{s: s, ctx: ctx, op: op, key: key}
	if err := r.request(); err != nil {
		return nil, err
	}
	return r, nil
}

// isNotExist reports whether err says the object (not the bucket) is missing.
func isNotExist(err error) bool { return s3Code(err) == codeNoSuchKey }
