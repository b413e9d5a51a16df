package kafkastore

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// brokerMaxBytes is the fake brokers' message.max.bytes: far below Kafka's
// 1 MiB default, so that every test object of a few hundred KiB is framed.
const brokerMaxBytes = 64 << 10

// testTimeout bounds every test's calls: a hang fails the test instead of
// stalling the suite.
const testTimeout = 60 * time.Second

// newCluster starts an in-process fake Kafka (one broker on 127.0.0.1)
// that refuses batches above brokerMaxBytes.
func newCluster(t *testing.T, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	base := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.BrokerConfigs(map[string]string{"message.max.bytes": strconv.Itoa(brokerMaxBytes)}),
	}
	c, err := kfake.NewCluster(append(base, opts...)...)
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// testConfig is a store on c whose frames fit the brokers' limit.
func testConfig(c *kfake.Cluster) Config {
	return Config{Brokers: c.ListenAddrs(), MaxMessageBytes: brokerMaxBytes}
}

// openStore opens a store with cfg, closed at the end of the test.
func openStore(t *testing.T, cfg Config) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// segName is a valid segment name for i.
func segName(i int) string {
	return fmt.Sprintf("%010d.%010d-%010d.%010d.tseg", 1700000000, i, 1700000000, i)
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// recordCount is how many records stream's topic holds now.
func recordCount(t *testing.T, s *Store, stream string) int64 {
	t.Helper()
	o := topicOffsets(t, s, stream)
	return o.end - o.start
}

func topicOffsets(t *testing.T, s *Store, stream string) offsets {
	t.Helper()
	o, err := s.listOffsets(testCtx(t), s.topic(stream))
	if err != nil || !o.exists {
		t.Fatalf("offsets of %s: %+v, %v", stream, o, err)
	}
	return o
}

// produceRaw produces recs with a plain client, as another program (or a
// producer that crashes after them) would.
func produceRaw(t *testing.T, c *kfake.Cluster, recs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(testCtx(t), recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// readSegment reads a segment back whole.
func readSegment(t *testing.T, s *Store, stream, name string) []byte {
	t.Helper()
	rc, err := s.OpenSegment(testCtx(t), stream, name)
	if err != nil {
		t.Fatalf("OpenSegment(%s): %v", name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return b
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
