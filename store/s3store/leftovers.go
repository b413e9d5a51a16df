package s3store

import (
	"context"
	"time"
)

// staleUploadAge is how old an incomplete multipart upload must be before
// Open aborts it. An upload in progress is invisible to readers but its parts
// take space; a crashed writer leaves one behind. A day is longer than any
// one file's upload takes, so an upload another process is still making is
// left alone.
const staleUploadAge = 24 * time.Hour

// abortStaleUploads aborts the store's incomplete multipart uploads that
// began before olderThan ago, and returns how many it aborted. It is best
// effort, like dirstore's removal of stale temporary files: such uploads are
// never listed, so a failure here (for example a missing
// s3:ListBucketMultipartUploads permission) is not an error. A lifecycle
// rule that aborts incomplete uploads does the same on the server's side.
func (s *Store) abortStaleUploads(ctx context.Context, olderThan time.Duration) int {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cutoff := time.Now().Add(-olderThan)
	aborted := 0
	for up := range s.client.ListIncompleteUploads(ctx, s.bucket, s.prefix, true) {
		if up.Err != nil {
			return aborted
		}
		if up.Initiated.After(cutoff) {
			continue
		}
		if err := s.core.AbortMultipartUpload(ctx, s.bucket, up.Key, up.UploadID); err == nil {
			aborted++
		}
	}
	return aborted
}
