package e2e

import (
	"context"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/internal/workload"
	"github.com/tidelog/tidelog/oplog"
)

const (
	// outageMaxBytes is the outage test's broker message.max.bytes:
	// every segment of more than 64 KiB is framed.
	outageMaxBytes = 64 << 10
	// kafkaOutage is how long the brokers stay down while writes go on.
	kafkaOutage = 15 * time.Second
)

// While the Kafka brokers are down (the whole in-process cluster closed,
// then started again on the same port with its data), tailerd keeps
// running, applies back-pressure and neither drops nor repeats anything:
// once Kafka is back, the store's entries are exactly the source's oplog
// (an export compared entry by entry), the chain verifies with no gap, and
// restores to positions before, during and after the outage equal the
// source then. tailerd's memory stays bounded through the outage although
// the source's oplog grows by megabytes a second meanwhile.
func TestKafkaOutageRidesOut(t *testing.T) {
	ctx := context.Background()
	began := time.Now()
	phase := func(what string) { t.Logf("+%s %s", time.Since(began).Round(100*time.Millisecond), what) }
	src := testserver.StartT(t, testserver.Options{})
	client, err := src.Client()
	must(t, err)
	defer client.Disconnect(ctx)
	k := startOutageKafka(t)

	work := t.TempDir()
	logPath := filepath.Join(work, "tailerd.log")
	d := startTailerd(t, logPath, "--source", src.URI, "--store", k.loc, "--checkpoint", filepath.Join(work, "checkpoint"),
		"--cut-age", "300ms", "--cut-bytes", "1048576")
	before := watchRSS(t, d)
	wr := startOutageWriter(t, client, 17)
	var points []recorded
	record := func() {
		wr.hold(func() { points = append(points, recorded{ts: lastTS(t, src, client), state: mustDump(t, client)}) })
	}

	// Under way: the writer has written and tailerd has stored a segment.
	waitForLog(t, 30*time.Second, logPath, func() bool { return strings.Contains(readLog(logPath), "segment stored") })
	record()
	waitRestorable(t, k.loc, logPath, points[0].ts)
	t.Logf("tailerd resident memory before the outage: %s", before.stop())

	// The brokers go away for kafkaOutage, with workload writes and blobs
	// going on all the while.
	phase("Kafka down")
	stored := strings.Count(readLog(logPath), "segment stored")
	logFrom := len(readLog(logPath))
	k.stop()
	down := time.Now()
	mem := watchOutageMemory(t, d, client)
	time.Sleep(kafkaOutage)
	mem.check(t, "while Kafka was down")
	record()
	if d.Exited() {
		t.Fatalf("tailerd exited %d while Kafka was down\n%s", d.ExitCode(), logTail(logPath))
	}
	outageLog := readLog(logPath)[logFrom:]
	// One put may have been acknowledged just before the brokers closed.
	if n := strings.Count(outageLog, "segment stored"); n > 1 {
		t.Errorf("%d segments stored while Kafka was down:\n%s", n, outageLog)
	}
	// A put to Kafka waits for the brokers without failing (franz-go retries
	// a refused connection for as long as the put's context lasts), so the
	// tailer has nothing to log; what it logged is shown, not checked.
	t.Logf("Kafka down for %s; tailerd logged %d lines meanwhile:\n%s",
		time.Since(down).Round(100*time.Millisecond), strings.Count(outageLog, "\n"), outageLog)

	k.restart(t)
	phase("Kafka back")
	// Writes go on until tailerd stored a segment after the restart.
	waitForLog(t, 60*time.Second, logPath, func() bool { return strings.Count(readLog(logPath), "segment stored") > stored+1 })
	record()
	wr.stop(t)
	waitRestorable(t, k.loc, logPath, points[len(points)-1].ts)
	phase("caught up")
	if n := strings.Count(readLog(logPath)[logFrom+len(outageLog):], "store write failed"); n > 0 {
		t.Logf("%d failed puts retried after Kafka came back", n)
	}
	if code := d.stop(t); code != 0 {
		t.Fatalf("tailerd exited %d on SIGTERM\n%s", code, logTail(logPath))
	}

	if code, out, errOut := replayer(t, "verify", "--store", k.loc); code != 0 || !strings.HasPrefix(out, "OK:") {
		t.Fatalf("verify after the outage: exit %d\n%s%s", code, out, errOut)
	}
	l := list(t, k.loc)
	if len(l.Streams) != 1 || len(l.Streams[0].Gaps) != 0 || l.Streams[0].Restorable == nil {
		t.Fatalf("after the outage: %+v, want one stream, no gaps, restorable", l.Streams)
	}
	last := points[len(points)-1].ts
	out := filepath.Join(work, "oplog.bson")
	if code, stdout, errOut := replayer(t, "export", "--store", k.loc, "--to", last.String(), "--out", out); code != 0 {
		t.Fatalf("export: exit %d\n%s%s", code, stdout, errOut)
	}
	sameEntries(t, "the store through the Kafka outage", readBSONFile(t, out), sourceOplog(t, client, oplog.Timestamp{}, last))
	topic := "outage." + l.Streams[0].Name
	n := framedSegments(t, k.brokers, topic)
	if n == 0 {
		t.Errorf("no segment in topic %s was split into frames: the test does not exercise framing", topic)
	}
	t.Logf("%d segments (%d records of framed ones), %d workload writes", len(l.Streams[0].Segments), n, wr.w.Writes)
	phase("exported")
	for _, p := range points {
		restoreAndCompare(t, k.loc, p, "")
	}
	phase("restored")
}

// outageKafka is an in-process Kafka (kfake, one broker on loopback) that
// keeps its data in a directory, so that it can be stopped and started again
// on the same port with everything it had acknowledged.
type outageKafka struct {
	dir     string
	port    int
	brokers []string
	loc     string

	mu sync.Mutex
	c  *kfake.Cluster // nil while stopped; guarded by mu
}

func outageKafkaOpts(dir string, ports ...int) []kfake.Opt {
	return []kfake.Opt{kfake.NumBrokers(1), kfake.DataDir(dir), kfake.Ports(ports...),
		kfake.BrokerConfigs(map[string]string{"message.max.bytes": strconv.Itoa(outageMaxBytes)})}
}

func startOutageKafka(t *testing.T) *outageKafka {
	t.Helper()
	k := &outageKafka{dir: t.TempDir()}
	c, err := kfake.NewCluster(outageKafkaOpts(k.dir)...)
	must(t, err)
	k.c = c
	t.Cleanup(k.stop)
	k.brokers = c.ListenAddrs()
	_, port, err := net.SplitHostPort(k.brokers[0])
	must(t, err)
	k.port, err = strconv.Atoi(port)
	must(t, err)
	if len(k.brokers) != 1 || !strings.HasPrefix(k.brokers[0], "127.0.0.1:") {
		t.Fatalf("kfake listens on %v, want one broker on loopback", k.brokers)
	}
	k.loc = "kafka://" + k.brokers[0] + "/outage?max_message_bytes=" + strconv.Itoa(outageMaxBytes)
	return k
}

// stop closes the cluster: its port refuses connections until restart.
func (k *outageKafka) stop() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.c != nil {
		k.c.Close()
		k.c = nil
	}
}

// restart starts the cluster again on its port, from its directory.
func (k *outageKafka) restart(t *testing.T) {
	t.Helper()
	k.mu.Lock()
	defer k.mu.Unlock()
	c, err := kfake.NewCluster(outageKafkaOpts(k.dir, k.port)...)
	must(t, err)
	k.c = c
}

// outageWriter writes a workload from a goroutine of its own, 10 writes a
// round, until stopped; hold runs something between two rounds.
type outageWriter struct {
	w    *workload.Workload
	quit chan struct{}
	done chan error
	mu   sync.Mutex // held for each round
}

func startOutageWriter(t *testing.T, client *mongo.Client, seed uint64) *outageWriter {
	t.Helper()
	wr := &outageWriter{w: workload.New(client, seed), quit: make(chan struct{}), done: make(chan error, 1)}
	go func() { wr.done <- wr.run() }()
	t.Cleanup(func() { wr.halt() })
	return wr
}

func (wr *outageWriter) run() error {
	for {
		select {
		case <-wr.quit:
			return nil
		default:
		}
		wr.mu.Lock()
		err := wr.w.Step(context.Background(), 10)
		wr.mu.Unlock()
		if err != nil {
			return err
		}
	}
}

// hold runs f between two rounds of writes: with the workload quiet.
func (wr *outageWriter) hold(f func()) {
	wr.mu.Lock()
	defer wr.mu.Unlock()
	f()
}

func (wr *outageWriter) halt() error {
	select {
	case <-wr.quit:
	default:
		close(wr.quit)
	}
	err := <-wr.done
	wr.done <- err // for a second halt
	return err
}

// stop ends the writes and fails the test if one of them failed.
func (wr *outageWriter) stop(t *testing.T) {
	t.Helper()
	if err := wr.halt(); err != nil {
		t.Fatalf("writer: %v", err)
	}
}
