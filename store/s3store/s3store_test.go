package s3store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/store"
	"github.com/tidelog/tidelog/store/storetest"
)

// The conformance suite against a real MinIO: stores at a bucket's root, under
// a prefix of a shared bucket, and over TLS. Small parts make the suite's
// large segment and snapshot file multipart uploads.
func TestConformance(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tls    bool
		prefix bool
	}{{"BucketRoot", false, false}, {"Prefix", false, true}, {"TLS", true, true}} {
		t.Run(tc.name, func(t *testing.T) {
			m := testserver.StartMinIOT(t, testserver.MinIOOptions{TLS: tc.tls})
			shared := newBucket(t, m)
			storetest.Run(t, func(t *testing.T) store.Store {
				cfg := config(m, newBucket(t, m))
				if tc.prefix {
					cfg = config(m, shared)
					cfg.Prefix = "stores/" + randomHex(t) + "/"
				}
				return openStore(t, cfg)
			})
		})
	}
}

// config is a Config for bucket on m with its root credentials, creating
// the store, with the smallest part size and a short retry budget.
func config(m *testserver.MinIO, bucket string) Config {
	return Config{
		Endpoint:       m.URL(),
		Bucket:         bucket,
		AccessKey:      m.AccessKey(),
		SecretKey:      Secret(m.SecretKey()),
		CAFile:         m.CAFile(),
		PartSize:       MinPartSize,
		MaxRetries:     3,
		RetryBaseDelay: 10 * time.Millisecond,
		RetryMaxDelay:  50 * time.Millisecond,
		Create:         true,
	}
}

func openStore(t *testing.T, cfg Config) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// newBucket makes an empty bucket with a random name.
func newBucket(t *testing.T, m *testserver.MinIO) string {
	t.Helper()
	name := "tidelog-" + randomHex(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := m.MakeBucket(ctx, name); err != nil {
		t.Fatal(err)
	}
	return name
}

func randomHex(t *testing.T) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// rawClient is a minio-go client with the server's root credentials, to
// arrange and inspect buckets behind the store's back.
func rawClient(t *testing.T, m *testserver.MinIO) *minio.Client {
	t.Helper()
	c, err := m.Client()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// keys lists every key in bucket.
func keys(t *testing.T, m *testserver.MinIO, bucket string) []string {
	t.Helper()
	var out []string
	for obj := range rawClient(t, m).ListObjectsIter(context.Background(), bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		out = append(out, obj.Key)
	}
	return out
}

const seg1 = "0001700000.0000000001-0001700000.0000000009.tseg"
