package e2e

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tidelog/tidelog/internal/testserver"
)

// kafkaMaxBytes is the fake broker's message.max.bytes, far below Kafka's
// 1 MiB default, so that large segments and snapshot files are split into
// frames.
const kafkaMaxBytes = 16 << 10

// A backup kept in Kafka restores from the topics alone: tailerd captures
// a live workload into an in-process Kafka (kfake on loopback) with a local
// checkpoint and takes a snapshot; the checkpoint is deleted; list, verify
// and restores to recorded positions (from the start of capture and from
// the snapshot) reproduce the source as it was. Segments really were
// framed: the topic holds segment records with frames > 1.
func TestKafkaStoreRestoreFromTopicsAlone(t *testing.T) {
	ctx := context.Background()
	src := testserver.StartT(t, testserver.Options{})
	client, err := src.Client()
	must(t, err)
	defer client.Disconnect(ctx)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1),
		kfake.BrokerConfigs(map[string]string{"message.max.bytes": strconv.Itoa(kafkaMaxBytes)}))
	must(t, err)
	t.Cleanup(cluster.Close)
	brokers := cluster.ListenAddrs()
	for _, b := range brokers {
		if !strings.HasPrefix(b, "127.0.0.1:") {
			t.Fatalf("kfake listens on %s, not loopback", b)
		}
	}
	loc := "kafka://" + strings.Join(brokers, ",") + "/e2e?max_message_bytes=" + strconv.Itoa(kafkaMaxBytes)

	// Segments of up to 1 MiB of raw entries (the bulk loads fill them):
	// several frames each once compressed.
	c := captureWithSnapshot(t, src, client, loc, "--cut-bytes", "1048576", "--cut-age", "2s")
	checkRestoresFromStore(t, loc, c)

	l := list(t, loc)
	topic := "e2e." + l.Streams[0].Name
	n := framedSegments(t, brokers, topic)
	if n == 0 {
		t.Errorf("no segment in topic %s was split into frames: the test does not exercise framing", topic)
	}
	t.Logf("%d segments in %s, %d records of them in frames of multi-frame copies", len(l.Streams[0].Segments), topic, n)
}

// framedSegments reads topic from its start to its end and counts the
// segment records of copies split into more than one frame.
func framedSegments(t *testing.T, brokers []string, topic string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	must(t, err)
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	must(t, err)
	end, ok := ends.Lookup(topic, 0)
	if !ok || end.Err != nil {
		t.Fatalf("end offset of %s: %+v", topic, end)
	}
	framed, next := 0, int64(0)
	for next < end.Offset {
		fetches := cl.PollFetches(ctx)
		if err := fetches.Err(); err != nil {
			t.Fatalf("read %s up to offset %d (at %d): %v", topic, end.Offset, next, err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			next = r.Offset + 1
			kind, frames := "", 0
			for _, h := range r.Headers {
				switch h.Key {
				case "kind":
					kind = string(h.Value)
				case "frames":
					frames, _ = strconv.Atoi(string(h.Value))
				}
			}
			if kind == "segment" && frames > 1 {
				framed++
			}
		})
	}
	return framed
}
