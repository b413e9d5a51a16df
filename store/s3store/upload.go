package s3store

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
)

// maxParts is S3's limit on the parts of one upload.
const maxParts = 10000

// abortTimeout bounds the clean-up of a failed multipart upload, which runs
// even when the caller's context has ended.
const abortTimeout = 30 * time.Second

var putOptions = minio.PutObjectOptions{ContentType: "application/octet-stream"}

// putBytes stores data under key (see upload).
func (s *Store) putBytes(ctx context.Context, op, key string, data []byte) error {
	_, err := s.upload(ctx, op, key, &sliceParts{data: data})
	return err
}

// putReader stores r's bytes under key and returns how many (see upload).
func (s *Store) putReader(ctx context.Context, op, key string, r io.Reader) (int64, error) {
	return s.upload(ctx, op, key, &readerParts{r: r})
}

// upload writes an object that fits one part with one PUT, and a larger one
// as a multipart upload. Either way the object appears whole or not at all,
// and each request carries the Content-MD5 of its bytes. A failed request is
// retried with the same bytes (they are in memory: one part at a time), so a
// reader that cannot be re-read is still read only once.
func (s *Store) upload(ctx context.Context, op, key string, src partSource) (int64, error) {
	first, last, err := src.next(ctx, s.partSizeFor(1))
	if err != nil {
		return 0, fmt.Errorf("read the data: %w", err)
	}
	if last {
		return int64(len(first)), s.putObject(ctx, op, key, first)
	}
	return s.multipart(ctx, op, key, first, src)
}

// partSizeFor returns the size of part number n (from 1): PartSize, doubled
// every 1000 parts up to S3's largest part, so that a stream of unknown
// length fits the 10000 parts however long it turns out to be.
func (s *Store) partSizeFor(n int) int64 {
	size := s.partSize
	for i := (n - 1) / 1000; i > 0 && size < maxPartSize; i-- {
		size *= 2
	}
	return min(size, maxPartSize)
}

func md5sum(b []byte) []byte {
	sum := md5.Sum(b)
	return sum[:]
}

// putObject writes data with one PUT.
func (s *Store) putObject(ctx context.Context, op, key string, data []byte) error {
	sum := base64.StdEncoding.EncodeToString(md5sum(data))
	return s.retry.do(ctx, op, func(ctx context.Context) error {
		_, err := s.core.PutObject(ctx, s.bucket, key, bytes.NewReader(data), int64(len(data)), sum, "", putOptions)
		return err
	})
}

// multipart uploads first and the rest of src as the parts of one upload,
// one part in flight, and completes it. On failure the upload is aborted so
// that its parts do not linger (best effort; a bucket lifecycle rule that
// aborts incomplete uploads after a day catches the rest).
func (s *Store) multipart(ctx context.Context, op, key string, first []byte, src partSource) (n int64, err error) {
	var id string
	err = s.retry.do(ctx, op+": start multipart upload", func(ctx context.Context) error {
		var err error
		id, err = s.core.NewMultipartUpload(ctx, s.bucket, key, putOptions)
		return err
	})
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
			defer cancel()
			_ = s.core.AbortMultipartUpload(actx, s.bucket, key, id)
		}
	}()
	var parts []minio.CompletePart
	var sums []byte // the parts' MD5s, for the object's expected ETag
	part, last := first, false
	for num := 1; ; num++ {
		if num > maxParts {
			return 0, fmt.Errorf("%s: more than %d parts: raise the part size", op, maxParts)
		}
		sum := md5sum(part)
		etag, err := s.putPart(ctx, op, key, id, num, part, sum)
		if err != nil {
			return 0, fmt.Errorf("part %d: %w", num, err)
		}
		parts = append(parts, minio.CompletePart{PartNumber: num, ETag: etag})
		sums = append(sums, sum...)
		n += int64(len(part))
		if last {
			break
		}
		if part, last, err = src.next(ctx, s.partSizeFor(num+1)); err != nil {
			return 0, fmt.Errorf("read the data: %w", err)
		}
	}
	return n, s.complete(ctx, op, key, id, parts, multipartETag(sums, len(parts)))
}

func (s *Store) putPart(ctx context.Context, op, key, id string, num int, part, sum []byte) (string, error) {
	var etag string
	opts := minio.PutObjectPartOptions{Md5Base64: base64.StdEncoding.EncodeToString(sum)}
	err := s.retry.do(ctx, op+": part "+strconv.Itoa(num), func(ctx context.Context) error {
		p, err := s.core.PutObjectPart(ctx, s.bucket, key, id, num, bytes.NewReader(part), int64(len(part)), opts)
		etag = p.ETag
		return err
	})
	return etag, err
}

// complete completes the upload. If an attempt's answer was lost and the
// retry finds the upload gone (NoSuchUpload), the earlier attempt may have
// succeeded: the object is then checked against the ETag the parts imply.
func (s *Store) complete(ctx context.Context, op, key, id string, parts []minio.CompletePart, wantETag string) error {
	attempts := 0
	return s.retry.do(ctx, op+": complete multipart upload", func(ctx context.Context) error {
		attempts++
		_, err := s.core.CompleteMultipartUpload(ctx, s.bucket, key, id, parts, putOptions)
		if s3Code(err) != codeNoSuchUpload || attempts == 1 {
			return err
		}
		info, serr := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
		if serr == nil && strings.Trim(info.ETag, `"`) == wantETag {
			return nil
		}
		return err
	})
}

// multipartETag is the ETag S3 gives a completed multipart upload: the MD5
// of the parts' MD5s, a dash, and the number of parts.
func multipartETag(sums []byte, n int) string {
	return hex.EncodeToString(md5sum(sums)) + "-" + strconv.Itoa(n)
}
