package e2e

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// Bounds on tailerd's resident memory while its store is down. A daemon
// that applies back-pressure (the tailer stops reading the oplog while a
// put waits: tailer.pipeline's channel of 4 batches) holds what it had read
// when the store went away and nothing more, so its memory is flat however
// long the outage lasts; one that went on reading would grow with the
// oplog.
//
// Measured (2 CPUs, FerretDB source, 15 s outages with blobs written at
// blobRate): tailerd peaks at 34-40 MiB resident before an outage and at
// 35-38 MiB during one, Kafka's or MinIO's, and the peak of an outage's
// second half is within -1.8 to +0.6 MiB of its first half's. A tailerd
// built with an unbounded reader channel (a mutant, in a scratch copy)
// grew by 22-26 MiB from the first half to the second (41 MiB at 2.5 MiB/s
// of blobs), and peaked at 82-94 MiB. So rssGrowthSlack is about 4 times
// the largest variation seen in a correct tailerd and a third of the
// mutant's growth; rssCap is far above any correct peak (the legitimate
// buffers, the driver's batch of up to 16 MiB, the reader's 4+1 batches of
// 1 MiB, the open segment and the put waiting for the store, stay under
// 100 MiB even at 16 MiB segments) and catches a gross leak at a glance;
// growth is what tells a buffering tailer from a waiting one.
const (
	rssCap          = 256 << 20
	rssGrowthSlack  = 8 << 20
	rssSamplePeriod = 200 * time.Millisecond
)

// rssSample is one reading of a process's resident memory.
type rssSample struct {
	at  time.Time
	rss int64 // bytes
}

// rssWatch samples a running tailerd's resident memory (VmRSS of
// /proc/PID/status) until stopped.
type rssWatch struct {
	pid   int
	start time.Time
	quit  chan struct{}
	done  chan struct{}

	mu      sync.Mutex
	samples []rssSample // guarded by mu
	err     error       // first read failure while the process runs; guarded by mu
}

// watchRSS starts sampling d's resident memory every rssSamplePeriod, from
// now until stop or checkBounded. d.Cmd.Process is the daemon's own
// process (tailerd is exec'd directly, not through a shell), so its PID is
// the daemon's.
func watchRSS(t *testing.T, d *daemon) *rssWatch {
	t.Helper()
	w := &rssWatch{pid: d.Cmd.Process.Pid, start: time.Now(), quit: make(chan struct{}), done: make(chan struct{})}
	if _, _, err := readRSS(w.pid); err != nil {
		t.Fatalf("cannot read tailerd's memory: %v", err)
	}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(rssSamplePeriod)
		defer tick.Stop()
		for {
			w.sample(d)
			select {
			case <-w.quit:
				return
			case <-d.Done():
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(w.halt)
	return w
}

func (w *rssWatch) sample(d *daemon) {
	rss, _, err := readRSS(w.pid)
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		select {
		case <-d.Done(): // exited: its status file is gone; the test sees the exit
		default:
			if w.err == nil {
				w.err = err
			}
		}
		return
	}
	w.samples = append(w.samples, rssSample{at: time.Now(), rss: rss})
}

// halt stops sampling; it may be called more than once.
func (w *rssWatch) halt() {
	select {
	case <-w.quit:
	default:
		close(w.quit)
	}
	<-w.done
}

// rssSummary is what a watch saw.
type rssSummary struct {
	samples      int
	span         time.Duration
	first, peak  int64 // bytes
	peak1, peak2 int64 // peaks of the first and second half of the span
	n1, n2       int   // samples in each half
	hwm          int64 // the process's VmHWM (peak resident ever) at the end, 0 if unread
	readErr      error
}

// stop ends sampling and summarizes what was seen.
func (w *rssWatch) stop() rssSummary {
	w.halt()
	end := time.Now()
	_, hwm, _ := readRSS(w.pid)
	w.mu.Lock()
	defer w.mu.Unlock()
	s := rssSummary{samples: len(w.samples), span: end.Sub(w.start), hwm: hwm, readErr: w.err}
	mid := w.start.Add(end.Sub(w.start) / 2)
	for i, x := range w.samples {
		if i == 0 {
			s.first = x.rss
		}
		s.peak = max(s.peak, x.rss)
		if x.at.Before(mid) {
			s.peak1, s.n1 = max(s.peak1, x.rss), s.n1+1
		} else {
			s.peak2, s.n2 = max(s.peak2, x.rss), s.n2+1
		}
	}
	return s
}

func (s rssSummary) String() string {
	return fmt.Sprintf("%d samples over %s: first %s, peak %s (first half %s, second half %s), VmHWM %s",
		s.samples, s.span.Round(100*time.Millisecond), mib(s.first), mib(s.peak), mib(s.peak1), mib(s.peak2), mib(s.hwm))
}

// checkBounded stops sampling, logs what was seen as what, and fails the
// test unless tailerd's resident memory stayed under rssCap and did not
// grow from the first half of the watch to the second by more than
// rssGrowthSlack. It returns the summary.
func (w *rssWatch) checkBounded(t *testing.T, what string) rssSummary {
	t.Helper()
	s := w.stop()
	t.Logf("tailerd resident memory %s: %s", what, s)
	if s.readErr != nil {
		t.Errorf("reading tailerd's memory %s: %v", what, s.readErr)
	}
	// At least a few samples in each half, or the halves compare nothing.
	if s.n1 < 3 || s.n2 < 3 {
		t.Errorf("tailerd's memory %s: %d and %d samples in the two halves, want at least 3 each", what, s.n1, s.n2)
		return s
	}
	if s.peak >= rssCap {
		t.Errorf("tailerd's resident memory %s peaked at %s, cap %s", what, mib(s.peak), mib(rssCap))
	}
	if s.peak2 > s.peak1+rssGrowthSlack {
		t.Errorf("tailerd's resident memory grew %s: peak %s in the first half, %s in the second (slack %s): it grows with the outage",
			what, mib(s.peak1), mib(s.peak2), mib(rssGrowthSlack))
	}
	return s
}

// readRSS reads VmRSS and VmHWM of pid, in bytes.
func readRSS(pid int) (rss, hwm int64, err error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	found := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || key != "VmRSS" && key != "VmHWM" {
			continue
		}
		fields := strings.Fields(val) // "12345 kB"
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, 0, fmt.Errorf("/proc/%d/status: %s:%s", pid, key, val)
		}
		n, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/status: %s: %w", pid, key, err)
		}
		if key == "VmRSS" {
			rss, found = n<<10, true
		} else {
			hwm = n << 10
		}
	}
	if err := sc.Err(); err != nil {
		return 0, 0, err
	}
	if !found {
		// A zombie (exited, not yet reaped) has no VmRSS line.
		return 0, 0, fmt.Errorf("/proc/%d/status has no VmRSS: the process has exited", pid)
	}
	return rss, hwm, nil
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// blobSize is the size of blobWriter's incompressible documents.
const blobSize = 32 << 10

// blobRate is how fast blobs are written during an outage, in bytes a
// second: the source's oplog grows by as much, and a tailer that went on
// reading it while the store is down would grow at least as fast (its
// batches hold the raw entries), by more than rssGrowthSlack over half of a
// 15 s outage.
const blobRate = 2 << 20

// blobWriter writes incompressible documents of blobSize into blobs.data
// at blobRate, from a goroutine of its own, until stopped. Blobs touch no
// workload namespace: a workload's recorded states stay exact while they
// are written, and a restore's comparison of them ignores blobs (an
// export's comparison with the source's oplog does not).
type blobWriter struct {
	client *mongo.Client
	rng    *rand.Rand
	start  time.Time
	quit   chan struct{}
	done   chan error

	mu      sync.Mutex
	n       int32        // blobs written; guarded by mu
	written []blobsSoFar // after each insert; guarded by mu
}

type blobsSoFar struct {
	at    time.Time
	bytes int64
}

func startBlobWriter(t *testing.T, client *mongo.Client, seed uint64) *blobWriter {
	t.Helper()
	b := &blobWriter{client: client, rng: rand.New(rand.NewPCG(seed, 1)), start: time.Now(),
		quit: make(chan struct{}), done: make(chan error, 1)}
	go func() { b.done <- b.run(context.Background()) }()
	t.Cleanup(func() { b.halt() })
	return b
}

func (b *blobWriter) run(ctx context.Context) error {
	coll := b.client.Database("blobs").Collection("data")
	var total int64
	for {
		select {
		case <-b.quit:
			return nil
		case <-time.After(20 * time.Millisecond):
		}
		var docs []any
		for due := int64(time.Since(b.start).Seconds()*blobRate) - total; due > 0; due -= blobSize {
			data := make([]byte, blobSize)
			for j := 0; j < len(data); j += 8 {
				binary.LittleEndian.PutUint64(data[j:], b.rng.Uint64())
			}
			b.n++
			docs = append(docs, bson.D{{Key: "_id", Value: b.n}, {Key: "data", Value: bson.Binary{Data: data}}})
		}
		if len(docs) == 0 {
			continue
		}
		if _, err := coll.InsertMany(ctx, docs); err != nil {
			return fmt.Errorf("insert blobs: %w", err)
		}
		total += int64(len(docs)) * blobSize
		b.mu.Lock()
		b.written = append(b.written, blobsSoFar{at: time.Now(), bytes: total})
		b.mu.Unlock()
	}
}

// since is how many bytes of blobs were written after at.
func (b *blobWriter) since(at time.Time) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	var before, last int64
	for _, w := range b.written {
		if !w.at.After(at) {
			before = w.bytes
		}
		last = w.bytes
	}
	return last - before
}

func (b *blobWriter) halt() error {
	select {
	case <-b.quit:
	default:
		close(b.quit)
	}
	err := <-b.done
	b.done <- err // for a second halt
	return err
}

// outageMemory watches tailerd through a store outage: its resident
// memory, while blobs are written at blobRate.
type outageMemory struct {
	watch *rssWatch
	blobs *blobWriter
}

// watchOutageMemory starts watching d's memory and writing blobs; call it
// as the store goes down, and check as it comes back.
func watchOutageMemory(t *testing.T, d *daemon, client *mongo.Client) *outageMemory {
	t.Helper()
	return &outageMemory{watch: watchRSS(t, d), blobs: startBlobWriter(t, client, 7)}
}

// check stops the blobs and the watch and fails the test unless tailerd's
// memory stayed bounded (checkBounded), or if too little was written in the
// second half of the outage for growth to show.
func (o *outageMemory) check(t *testing.T, what string) rssSummary {
	t.Helper()
	if err := o.blobs.halt(); err != nil {
		t.Fatalf("blobs: %v", err)
	}
	mid := o.watch.start.Add(time.Since(o.watch.start) / 2)
	s := o.watch.checkBounded(t, what)
	all, second := o.blobs.since(time.Time{}), o.blobs.since(mid)
	t.Logf("%s: %s of blobs written in the source meanwhile, %s in the second half; tailerd's peak resident memory %+.1f MiB from the first half to the second",
		what, mib(all), mib(second), float64(s.peak2-s.peak1)/(1<<20))
	if second < 3*rssGrowthSlack/2 {
		t.Errorf("%s: only %s of blobs written in the second half: too little for the memory check to tell a tailer that buffers the oplog from one that waits",
			what, mib(second))
	}
	return s
}
