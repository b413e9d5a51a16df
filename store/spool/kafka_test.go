package spool

import (
	"context"
	"net"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/tidelog/tidelog/store/kafkastore"
)

// kafkaMaxBytes is the fake broker's message.max.bytes: segments are framed.
const kafkaMaxBytes = 64 << 10

func startKafka(t *testing.T, dataDir string, port int) *kfake.Cluster {
	t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.DataDir(dataDir),
		kfake.BrokerConfigs(map[string]string{"message.max.bytes": strconv.Itoa(kafkaMaxBytes)})}
	if port != 0 {
		opts = append(opts, kfake.Ports(port))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close) // idempotent
	return c
}

func openKafka(t *testing.T, addr string) *kafkastore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	k, err := kafkastore.Open(ctx, kafkastore.Config{Brokers: []string{addr}, MaxMessageBytes: kafkaMaxBytes})
	if err != nil {
		t.Fatalf("kafkastore.Open: %v", err)
	}
	t.Cleanup(func() { _ = k.Close() })
	return k
}

// liveHeap is the heap in use after a collection: what is retained.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// A real outage: Kafka (a standby) goes down while the tailer keeps putting
// segments. The directory store keeps up, puts do not wait, the spool does
// not hold the backlog in memory, and once Kafka is back on the same port
// with its data, every segment arrives.
func TestKafkaOutage(t *testing.T) {
	kdir := t.TempDir()
	c := startKafka(t, kdir, 0)
	addr := c.ListenAddrs()[0]
	_, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(portStr)
	k := openKafka(t, addr)
	d := newDirStore(t)
	opts := fastOpts(nil)
	opts.AttemptTimeout = 2 * time.Second
	opts.RetryMax = 200 * time.Millisecond
	opts.MaxBytes = 256 << 20
	s := openSpool(t, filepath.Join(t.TempDir(), "spool"), []Dest{{Name: "dir", Store: d}, {Name: "kafka", Store: k}}, opts)

	const size = 512 << 10
	put(t, s, "rs0", 0, size)
	drained(t, s) // Kafka works: the topic exists and holds segment 0

	c.Close()
	const n = 64 // 32 MiB put during the outage
	base := liveHeap()
	var peak uint64
	for i := 1; i < n; i++ {
		put(t, s, "rs0", i, size)
		if i%8 == 0 {
			peak = max(peak, liveHeap())
		}
	}
	waitFor(t, "the directory store to have everything", func() bool { return destStatus(s, "dir").Pending == 0 })
	if ks := destStatus(s, "kafka"); ks.Pending != n-1 || ks.PendingBytes != (n-1)*size {
		t.Fatalf("kafka's backlog during the outage: %+v", ks)
	}
	// The backlog (31.5 MiB) is on disk: what the process retains grows by
	// at most a few segments (the one being sent to Kafka, franz-go's buffers).
	if grown := int64(peak) - int64(base); grown > 16<<20 {
		t.Fatalf("live heap grew by %d MiB while %d MiB waited for Kafka", grown>>20, (n-1)*size>>20)
	}
	t.Logf("live heap: %d MiB before the outage's puts, peak %d MiB", base>>20, peak>>20)

	startKafka(t, kdir, port)
	drained(t, s)
	holds(t, d, "rs0", n, size)
	holds(t, openKafka(t, addr), "rs0", n, size) // a fresh reader of the topic
}
