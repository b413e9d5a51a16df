// Package s3store is a store.Store kept in an S3-compatible object store
// (Amazon S3, MinIO, and the like), under an optional key prefix of one
// bucket. The layout mirrors dirstore's and is described in
// docs/store-layout.md:
//
//	<prefix>tidelog-store.json                                     marker, see Open
//	<prefix>streams/<stream>/segments/<segment name>               one object per segment
//	<prefix>streams/<stream>/gaps/<after T.I>-<next T.I>.gap.json  one object per gap
//	<prefix>streams/<stream>/snapshots/<id>/<file>                 one object per snapshot file
//
// Atomicity: an S3 PUT (and the completion of a multipart upload) makes the
// whole object visible at once, so readers never see a partial object and no
// temporary names are needed. Every upload carries a Content-MD5 per request,
// so the server rejects bytes damaged on the way instead of storing them.
//
// Failures: transient errors (network, 5xx, SlowDown, a server still
// starting) are retried with exponential backoff and jitter within a bounded
// budget (Config.MaxRetries) that also ends with the caller's context.
// Permanent ones (access denied, no such bucket, bad credentials, an untrusted
// certificate) fail at once, with a message that says what to do.
//
// Secrets (the secret key, a session token) are held as Secret values that
// never print; they appear in no String(), error or log line.
package s3store
