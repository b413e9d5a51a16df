package kafkastore

import (
	"context"
	"errors"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// holdProduce makes c hold every produce request, unanswered, until release
// is closed, and signals held when the first one arrives. The request is
// handled normally afterwards: it is only the acknowledgement that waits.
func holdProduce(t *testing.T, c *kfake.Cluster) (held <-chan struct{}, release func()) {
	t.Helper()
	h := make(chan struct{}, 1)
	rel := make(chan struct{})
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		select {
		case h <- struct{}{}:
		default:
		}
		c.SleepControl(func() { <-rel })
		return nil, nil, false // not handled here: the cluster appends as usual
	})
	var released bool
	release = func() {
		if !released {
			released = true
			close(rel)
		}
	}
	t.Cleanup(release) // before the cluster closes (cleanups run last first)
	return h, release
}

// PutSegment does not return before Kafka acknowledged the frames: while
// the broker holds the produce request, the put waits (and the segment is
// not listed); once the broker answers, the put returns nil and the
// segment is listed.
func TestPutWaitsForAck(t *testing.T) {
	c := newCluster(t)
	s := openStore(t, testConfig(c))
	ctx := testCtx(t)
	if err := s.PutSegment(ctx, "rs0", segName(1), []byte("warm up")); err != nil {
		t.Fatal(err)
	}
	held, release := holdProduce(t, c)
	done := make(chan error, 1)
	go func() { done <- s.PutSegment(ctx, "rs0", segName(2), randomBytes(t, 200<<10)) }()
	select {
	case <-held:
	case err := <-done:
		t.Fatalf("PutSegment returned %v without its produce request reaching the broker", err)
	case <-ctx.Done():
		t.Fatal("no produce request reached the broker")
	}
	// A listing is a round trip to the same broker: if the put were to
	// return without the acknowledgement, it would have by now.
	names, err := s.Segments(ctx, "rs0")
	if err != nil || !slices.Equal(names, []string{segName(1)}) {
		t.Fatalf("Segments while the produce is held = %q, %v; want only %s", names, err, segName(1))
	}
	select {
	case err := <-done:
		t.Fatalf("PutSegment returned %v before Kafka acknowledged", err)
	default:
	}
	release()
	if err := <-done; err != nil {
		t.Fatalf("PutSegment after the acknowledgement: %v", err)
	}
	names, err = s.Segments(ctx, "rs0")
	if err != nil || !slices.Equal(names, []string{segName(1), segName(2)}) {
		t.Fatalf("Segments = %q, %v", names, err)
	}
}

// A put whose acknowledgement never comes fails when its context ends; it
// neither hangs nor reports success.
func TestPutFailsWhenAckNeverComes(t *testing.T) {
	c := newCluster(t)
	s := openStore(t, testConfig(c))
	if err := s.PutSegment(testCtx(t), "rs0", segName(1), []byte("warm up")); err != nil {
		t.Fatal(err)
	}
	held, _ := holdProduce(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.PutSegment(ctx, "rs0", segName(2), []byte("never acknowledged"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("PutSegment without an acknowledgement = %v, want DeadlineExceeded", err)
	}
	select {
	case <-held:
	default:
		t.Fatal("the produce request never reached the broker: the test proves nothing")
	}
}

// The cluster goes away (all brokers down) and comes back on the same port
// with its data (kfake persists to a directory): a put during the outage
// fails with its context, everything acknowledged before is still there
// afterwards, and the same Store writes again once the brokers are back.
func TestBrokerOutage(t *testing.T) {
	dir := t.TempDir()
	c1, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DataDir(dir),
		kfake.BrokerConfigs(map[string]string{"message.max.bytes": strconv.Itoa(brokerMaxBytes)}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c1.Close) // in case the test stops before closing it; Close is idempotent
	addr := c1.ListenAddrs()[0]
	cfg := Config{Brokers: []string{addr}, MaxMessageBytes: brokerMaxBytes}
	s := openStore(t, cfg)
	ctx := testCtx(t)
	before := randomBytes(t, 300<<10)
	if err := s.PutSegment(ctx, "rs0", segName(1), before); err != nil {
		t.Fatal(err)
	}
	c1.Close()

	down, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	err = s.PutSegment(down, "rs0", segName(2), []byte("during the outage"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("PutSegment while the brokers are down = %v, want DeadlineExceeded", err)
	}

	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	newCluster(t, kfake.Ports(p), kfake.DataDir(dir))

	if err := s.PutSegment(ctx, "rs0", segName(3), []byte("after")); err != nil {
		t.Fatalf("PutSegment after the brokers came back: %v", err)
	}
	fresh := openStore(t, cfg)
	names, err := fresh.Segments(ctx, "rs0")
	if err != nil || !slices.Contains(names, segName(1)) || !slices.Contains(names, segName(3)) {
		t.Fatalf("Segments after the outage = %q, %v; want %s and %s", names, err, segName(1), segName(3))
	}
	if got := readSegment(t, fresh, "rs0", segName(1)); string(got) != string(before) {
		t.Fatal("the segment acknowledged before the outage reads other bytes")
	}
}
