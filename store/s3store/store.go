package s3store

import (
	"context"
	"fmt"

	"github.com/minio/minio-go/v7"

	"github.com/tidelog/tidelog/store"
)

// Store is a store.Store in a bucket (under a prefix). It is safe for
// concurrent use, and several Stores (in one process or many) may share one
// bucket and prefix: every object is written whole by one PUT or one
// completed multipart upload, and nothing is locked.
type Store struct {
	client   *minio.Client
	core     minio.Core // the same client's low-level calls (multipart, plain GET)
	bucket   string
	prefix   string // "" or ending in "/"
	name     string // e.g. "https://s3.example.com/backups/prod/", for messages
	partSize int64
	retry    retrier
}

var _ store.Store = (*Store)(nil)

// Open opens the tidelog store in cfg.Bucket under cfg.Prefix.
//
// The bucket must exist. An empty bucket or prefix is a new store: with
// cfg.Create the marker object is written; without it Open returns an error
// wrapping store.ErrNotExist. A bucket or prefix that holds anything but
// lacks the marker, or whose marker is malformed or of a newer version, is
// refused with an error wrapping store.ErrNotStore, so tidelog never writes
// into, or restores from, something that is not its own.
//
// Open makes requests (the marker), so a wrong endpoint, bucket or
// credential shows here, with a message that says what to change. With
// cfg.Create (a writer), Open also aborts incomplete multipart uploads older
// than a day that a crashed writer left, best effort.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("s3 store (%s): %w", cfg, err)
	}
	ep, err := parseEndpoint(cfg.Endpoint, cfg.Secure)
	if err != nil {
		return nil, fmt.Errorf("s3 store: %w", err)
	}
	prefix, err := normPrefix(cfg.Prefix)
	if err != nil {
		return nil, fmt.Errorf("s3 store: %w", err)
	}
	s := &Store{
		bucket:   cfg.Bucket,
		prefix:   prefix,
		name:     ep.url() + "/" + cfg.Bucket + "/" + prefix,
		partSize: cfg.PartSize,
		retry: retrier{
			retries: cfg.MaxRetries,
			base:    cfg.RetryBaseDelay,
			max:     cfg.RetryMaxDelay,
			onRetry: cfg.OnRetry,
		},
	}
	if s.client, err = newClient(cfg, ep); err != nil {
		return nil, fmt.Errorf("s3 %s: %w", s.name, err)
	}
	s.core = minio.Core{Client: s.client}
	if cfg.AccessKey == "" {
		if err := s.checkChainFound(ctx); err != nil {
			return nil, err
		}
	}
	if err := s.openMarker(ctx, cfg.Create); err != nil {
		return nil, err
	}
	if cfg.Create {
		s.abortStaleUploads(ctx, staleUploadAge)
	}
	return s, nil
}

// String names the store for messages, e.g.
// "s3:https://s3.example.com/backups/prod/". It holds no credential.
func (s *Store) String() string { return "s3:" + s.name }

// Bucket and Prefix are where the store is.
func (s *Store) Bucket() string { return s.bucket }

// Prefix is the store's key prefix: "" or ending in "/".
func (s *Store) Prefix() string { return s.prefix }

// fail wraps err with the store and operation, the form of every error the
// Store returns: "s3 <endpoint>/<bucket>/<prefix>: <op>: <cause>".
func (s *Store) fail(op string, err error) error {
	return fmt.Errorf("s3 %s: %s: %w", s.name, op, err)
}

// checkCtx returns ctx's error, wrapped, if ctx is done; every method calls
// it first, so that a done context stores nothing.
func (s *Store) checkCtx(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return s.fail(op, err)
	}
	return nil
}

// checkChainFound fails if the credential chain finds no credentials, which
// would otherwise send anonymous requests and read as "access denied".
// Looking up an instance role may take a while, so it honours ctx.
func (s *Store) checkChainFound(ctx context.Context) error {
	type result struct {
		anonymous bool
		err       error
	}
	done := make(chan result, 1)
	go func() {
		v, err := s.client.GetCreds()
		done <- result{v.AccessKeyID == "" && v.SecretAccessKey == "", err}
	}()
	select {
	case <-ctx.Done():
		return s.fail("find credentials", ctx.Err())
	case r := <-done:
		if r.err != nil {
			return s.fail("find credentials", r.err)
		}
		if r.anonymous {
			return s.fail("find credentials", fmt.Errorf("no credentials found: give an access and secret key, "+
				"or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or put them in ~/.aws/credentials, "+
				"or run with an instance role"))
		}
		return nil
	}
}
