package storeurl

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/store"
	"github.com/tidelog/tidelog/store/kafkastore"
	"github.com/tidelog/tidelog/store/s3store"
)

const seg = "0001700000.0000000001-0001700000.0000000009.tseg"

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// roundTrip writes through a writer's store and reads back through a
// reader's, as tailerd and replayer do.
func roundTrip(t *testing.T, raw string) (writer, reader store.Store) {
	t.Helper()
	ctx := testCtx(t)
	w, err := Open(ctx, raw, Options{Create: true})
	if err != nil {
		t.Fatalf("Open(%q, create): %v", describe(raw), err)
	}
	t.Cleanup(func() { _ = Close(w) })
	if err := w.PutSegment(ctx, "rs0", seg, []byte("segment bytes")); err != nil {
		t.Fatalf("put: %v", err)
	}
	r, err := Open(ctx, raw, Options{})
	if err != nil {
		t.Fatalf("Open(%q): %v", describe(raw), err)
	}
	defer func() {
		if err := Close(r); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	names, err := r.Segments(ctx, "rs0")
	if err != nil || len(names) != 1 || names[0] != seg {
		t.Fatalf("reader lists %v, %v; want [%s]", names, err, seg)
	}
	return w, r
}

func TestOpenDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	if _, err := Open(testCtx(t), dir, Options{}); !errors.Is(err, store.ErrNotExist) {
		t.Errorf("a reader opening a missing directory: %v, want ErrNotExist", err)
	}
	w, _ := roundTrip(t, "file://"+dir)
	if w.String() != "dir:"+dir {
		t.Errorf("String() = %q", w.String())
	}
}

func TestOpenKafka(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1),
		kfake.BrokerConfigs(map[string]string{"message.max.bytes": strconv.Itoa(64 << 10)}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	raw := "kafka://" + strings.Join(c.ListenAddrs(), ",") + "/e2e?max_message_bytes=65536"
	w, _ := roundTrip(t, raw)
	// A reader of a mistyped prefix fails rather than reading an empty store.
	typo := "kafka://" + strings.Join(c.ListenAddrs(), ",") + "/e2f"
	if _, err := Open(testCtx(t), typo, Options{}); !errors.Is(err, store.ErrNotExist) {
		t.Errorf("a reader opening a prefix with no topics: %v, want ErrNotExist", err)
	}
	if _, ok := w.(*kafkastore.Store); !ok || w.String() != "kafka:"+strings.Join(c.ListenAddrs(), ",")+"/e2e" {
		t.Errorf("opened %T %s", w, w)
	}
}

// An S3 store takes its credentials from the environment; its name holds
// none, and without any the open fails saying where to put them.
func TestOpenS3CredentialsFromEnvironment(t *testing.T) {
	m := testserver.StartMinIOT(t, testserver.MinIOOptions{})
	if err := m.MakeBucket(testCtx(t), "storeurl"); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir() // no ~/.aws or ~/.mc of the machine's
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
		"MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD", "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY"} {
		t.Setenv(k, "")
	}
	t.Setenv("HOME", home)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(home, "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	raw := "s3://storeurl/prod/db1?endpoint=" + m.Endpoint() + "&tls=false"

	ctx, cancel := context.WithTimeout(testCtx(t), 20*time.Second)
	defer cancel()
	if _, err := Open(ctx, raw, Options{Create: true}); err == nil || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Errorf("open without credentials: %v, want a message naming AWS_ACCESS_KEY_ID", err)
	}

	t.Setenv("MINIO_ROOT_USER", m.AccessKey())
	t.Setenv("MINIO_ROOT_PASSWORD", m.SecretKey())
	w, _ := roundTrip(t, raw)
	if s := w.String(); strings.Contains(s, m.SecretKey()) || !strings.Contains(s, "/storeurl/prod/db1/") {
		t.Errorf("String() = %q: want the bucket and prefix and no secret", s)
	}
	if _, err := Open(testCtx(t), "s3://storeurl/other?endpoint="+m.Endpoint()+"&tls=false", Options{}); !errors.Is(err, store.ErrNotExist) {
		t.Errorf("a reader opening an empty prefix: %v, want ErrNotExist", err)
	}

	// OnS3Retry hears of every failed attempt while the server is away.
	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}
	var retries []s3store.RetryEvent
	ctx, cancel = context.WithTimeout(testCtx(t), 2*time.Second)
	defer cancel()
	_, err := Open(ctx, raw, Options{OnS3Retry: func(ev s3store.RetryEvent) { retries = append(retries, ev) }})
	if err == nil || len(retries) == 0 || retries[0].Err == nil {
		t.Errorf("open with the server down: %v after %d retries reported, want an error and retries", err, len(retries))
	}
}
