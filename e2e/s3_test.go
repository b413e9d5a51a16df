package e2e

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/internal/workload"
	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/restore"
	"github.com/tidelog/tidelog/store/s3store"
)

// s3Bucket is the bucket every S3 test makes on its own MinIO.
const s3Bucket = "tidelog-e2e"

// startS3 starts MinIO with the test's bucket and gives tailerd and
// replayer its credentials the way an operator would: in their process
// environment (they inherit the test's), never on the command line. It
// returns the store location for prefix.
func startS3(t *testing.T, prefix string) (*testserver.MinIO, string) {
	t.Helper()
	m := testserver.StartMinIOT(t, testserver.MinIOOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	must(t, m.MakeBucket(ctx, s3Bucket))
	t.Setenv("AWS_ACCESS_KEY_ID", m.AccessKey())
	t.Setenv("AWS_SECRET_ACCESS_KEY", m.SecretKey())
	t.Setenv("AWS_SESSION_TOKEN", "")
	return m, "s3://" + s3Bucket + "/" + prefix + "?endpoint=" + m.Endpoint() + "&tls=false"
}

// A backup kept in S3 restores on a machine that has nothing but the
// bucket's address and credentials: tailerd captures a live workload into
// MinIO with a local checkpoint and takes a snapshot; the checkpoint is then
// deleted, and list, verify and restores to recorded positions (before the
// snapshot: from the start of capture; after it: from the snapshot) work
// from the bucket alone and reproduce the source as it was.
func TestS3StoreRestoreOnFreshMachine(t *testing.T) {
	ctx := context.Background()
	src := testserver.StartT(t, testserver.Options{})
	client, err := src.Client()
	must(t, err)
	defer client.Disconnect(ctx)
	m, loc := startS3(t, "prod/db1")

	c := captureWithSnapshot(t, src, client, loc)
	checkRestoresFromStore(t, loc, c)

	// Nothing is left of the capture machine but the bucket; the store
	// lives under its prefix and nowhere else.
	mc, err := m.Client()
	must(t, err)
	n := 0
	for obj := range mc.ListObjectsIter(ctx, s3Bucket, minio.ListObjectsOptions{Recursive: true}) {
		must(t, obj.Err)
		if !strings.HasPrefix(obj.Key, "prod/db1/") {
			t.Errorf("object %s outside the store's prefix", obj.Key)
		}
		n++
	}
	if n < 5 {
		t.Errorf("only %d objects in the bucket", n)
	}
	measurePlanRequests(t, m, c)
}

// While MinIO is down tailerd keeps reading the source, logs each failed
// store request and retries; once MinIO is back, everything captured
// meanwhile lands. Nothing is lost or duplicated: the store's entries are
// exactly the source's oplog (an export compared entry by entry), the
// chain verifies, and restores to positions before, during and after the
// outage equal the source then.
func TestS3StoreRidesOutAnOutage(t *testing.T) {
	ctx := context.Background()
	src := testserver.StartT(t, testserver.Options{})
	client, err := src.Client()
	must(t, err)
	defer client.Disconnect(ctx)
	m, loc := startS3(t, "outage")

	work := t.TempDir()
	logPath := filepath.Join(work, "tailerd.log")
	d := startTailerd(t, logPath, "--source", src.URI, "--store", loc, "--checkpoint", filepath.Join(work, "checkpoint"),
		"--cut-age", "300ms", "--cut-bytes", "65536")
	w := workload.New(client, 11)
	var points []recorded
	record := func() { points = append(points, recorded{ts: lastTS(t, src, client), state: mustDump(t, client)}) }

	must(t, w.Step(ctx, 150))
	record()
	waitRestorable(t, loc, logPath, points[0].ts)

	// Down for at least 3s and until tailerd has logged three failed
	// requests, with writes going on all the while.
	must(t, m.Stop())
	mem := watchOutageMemory(t, d, client)
	const retrying = "store request failed; retrying"
	down := time.Now()
	for i := 0; strings.Count(readLog(logPath), retrying) < 3 || time.Since(down) < 3*time.Second; i++ {
		if i == 1000 { // bounded: 10,000 writes at most
			t.Fatalf("%d %q in tailerd's log after %d writes in %s with the store down\n%s",
				strings.Count(readLog(logPath), retrying), retrying, i*10, time.Since(down), logTail(logPath))
		}
		must(t, w.Step(ctx, 10))
	}
	for time.Since(down) < 15*time.Second { // long enough for the memory check to tell
		must(t, w.Step(ctx, 10))
	}
	mem.check(t, "while MinIO was down")
	record()
	restartCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	must(t, m.Restart(restartCtx))
	must(t, w.Step(ctx, 100))
	record()
	waitRestorable(t, loc, logPath, points[2].ts)
	if code := d.stop(t); code != 0 {
		t.Fatalf("tailerd exited %d on SIGTERM\n%s", code, logTail(logPath))
	}

	if strings.Contains(readLog(logPath), m.SecretKey()) {
		t.Errorf("tailerd's log holds the secret key")
	}
	if code, out, errOut := replayer(t, "verify", "--store", loc); code != 0 || !strings.HasPrefix(out, "OK:") {
		t.Fatalf("verify after the outage: exit %d\n%s%s", code, out, errOut)
	}
	l := list(t, loc)
	if len(l.Streams) != 1 || len(l.Streams[0].Gaps) != 0 || l.Streams[0].Restorable == nil {
		t.Fatalf("after the outage: %+v, want one stream, no gaps, restorable", l.Streams)
	}
	out := filepath.Join(work, "oplog.bson")
	if code, stdout, errOut := replayer(t, "export", "--store", loc, "--to", points[2].ts.String(), "--out", out); code != 0 {
		t.Fatalf("export: exit %d\n%s%s", code, stdout, errOut)
	}
	sameEntries(t, "the store through the outage", readBSONFile(t, out), sourceOplog(t, client, oplog.Timestamp{}, points[2].ts))
	for _, p := range points {
		restoreAndCompare(t, loc, p, "")
	}
}

// captured is what a capture into a store recorded.
type captured struct {
	points   []recorded
	snapshot int // points[snapshot:] were recorded after the snapshot completed
}

// captureWithSnapshot runs tailerd from src into the store at loc with a
// checkpoint in a directory of its own, through a workload with a snapshot
// (SIGUSR1) taken while writes go on; records positions and the source's
// state there; waits until the last is restorable; stops tailerd (which
// must exit 0); and deletes the checkpoint, so that what follows has the
// store and nothing else.
func captureWithSnapshot(t *testing.T, src *testserver.Server, client *mongo.Client, loc string, extra ...string) captured {
	t.Helper()
	ctx := context.Background()
	work := t.TempDir()
	logPath := filepath.Join(work, "tailerd.log")
	ckpt := filepath.Join(work, "checkpoint")
	args := append([]string{"--source", src.URI, "--store", loc, "--checkpoint", ckpt,
		"--cut-age", "300ms", "--cut-bytes", "65536", "--snapshot-workers", "2"}, extra...)
	d := startTailerd(t, logPath, args...)

	w := workload.New(client, 23)
	var c captured
	record := func() { c.points = append(c.points, recorded{ts: lastTS(t, src, client), state: mustDump(t, client)}) }
	must(t, w.Bulk(ctx, "app.events", 2000))
	must(t, w.Step(ctx, 150))
	record()

	d.snapshotNow(t)
	for i := 0; countSnapshotsTaken(logPath) < 1; i++ {
		if i == 600 { // bounded: 6,000 writes at most
			t.Fatalf("no snapshot completed after %d writes\n%s", i*10, logTail(logPath))
		}
		must(t, w.Step(ctx, 10))
	}
	c.snapshot = len(c.points)
	must(t, w.Step(ctx, 100))
	record()
	must(t, w.Bulk(ctx, "shop.orders", 500))
	must(t, w.Step(ctx, 100))
	record()
	waitRestorable(t, loc, logPath, c.points[len(c.points)-1].ts)
	if code := d.stop(t); code != 0 {
		t.Fatalf("tailerd exited %d on SIGTERM\n%s", code, logTail(logPath))
	}
	if strings.Contains(readLog(logPath), "retrying") {
		t.Errorf("store retries against a healthy store:\n%s", logTail(logPath))
	}
	must(t, os.RemoveAll(ckpt))
	return c
}

// checkRestoresFromStore lists, verifies and restores every recorded
// position of c from the store at loc alone.
func checkRestoresFromStore(t *testing.T, loc string, c captured) {
	t.Helper()
	l := listSnapshots(t, loc)
	if len(l.Streams) != 1 || len(l.Streams[0].Snapshots) != 1 || len(l.Streams[0].Segments) < 3 {
		t.Fatalf("list: %+v, want one stream with one snapshot and at least 3 segments", l.Streams)
	}
	if code, out, errOut := replayer(t, "verify", "--store", loc); code != 0 || !strings.Contains(out, "1 snapshots verified") {
		t.Fatalf("verify: exit %d\n%s%s", code, out, errOut)
	}
	for i, p := range c.points {
		base := "from the start of capture"
		if i >= c.snapshot {
			base = "from snapshot " + l.Streams[0].Snapshots[0].ID
		}
		restoreAndCompare(t, loc, p, base)
	}
}

// restoreAndCompare restores p from the store at loc into a fresh target
// and compares it with the source's state at p; the restore's report must
// name says (its base), if given.
func restoreAndCompare(t *testing.T, loc string, p recorded, says string) {
	t.Helper()
	target := testserver.StartT(t, testserver.Options{NoOplog: true})
	defer target.Stop()
	code, out, errOut := replayer(t, "restore", "--store", loc, "--target", target.URI, "--to", p.ts.String())
	if code != 0 || !strings.Contains(out, says) {
		t.Fatalf("restore to %s: exit %d, want 0 %s\n%s%s", p.ts, code, says, out, errOut)
	}
	tc, err := target.Client()
	must(t, err)
	defer tc.Disconnect(context.Background())
	if diff := workload.Diff(p.state, mustDump(t, tc)); diff != "" {
		t.Errorf("restore to %s differs from the source then:\n%s", p.ts, diff)
	}
}

func readLog(path string) string {
	data, _ := os.ReadFile(path)
	return string(data)
}

// measurePlanRequests plans a restore of the last position in-process,
// against the bucket through a transport that counts requests and the
// response bytes the client reads, and reports what planning costs: a
// restore plans from object listings, each segment's header and the
// snapshot manifests, and must not read whole segments to do it.
func measurePlanRequests(t *testing.T, m *testserver.MinIO, c captured) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tr := &countingTransport{next: http.DefaultTransport}
	st, err := s3store.Open(ctx, s3store.Config{Endpoint: m.Endpoint(), Bucket: s3Bucket, Prefix: "prod/db1",
		AccessKey: m.AccessKey(), SecretKey: s3store.Secret(m.SecretKey()), Transport: tr})
	must(t, err)
	tr.reset()
	prep, err := restore.Prepare(ctx, st, restore.Options{To: c.points[len(c.points)-1].ts})
	must(t, err)
	segs := tr.count("GET", "/segments/")
	t.Logf("restore plan on S3 (%d segments, snapshot %v): %d requests (%s); segment GETs %d reading %d header bytes",
		len(prep.Plan.Segments), prep.Snapshot != nil, tr.total(), tr.summary(), segs, tr.bytesOf("/segments/"))
	names, err := st.Segments(ctx, prep.Stream)
	must(t, err)
	if segs != len(names) {
		t.Errorf("planning made %d segment GETs for %d segments: want one header read each", segs, len(names))
	}
	if perSeg := tr.bytesOf("/segments/") / int64(max(segs, 1)); perSeg > 4096 {
		t.Errorf("planning read %d bytes per segment: more than a header", perSeg)
	}
}

// countingTransport counts requests by method and path class, and the
// response body bytes the client reads.
type countingTransport struct {
	next http.RoundTripper

	mu    sync.Mutex
	reqs  map[string]int   // "GET /segments/" etc.
	bytes map[string]int64 // by path class
}

func (c *countingTransport) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reqs, c.bytes = map[string]int{}, map[string]int64{}
}

// class is the kind of object a request is about.
func class(r *http.Request) string {
	for _, part := range []string{"/segments/", "/snapshots/", "/gaps/", "tidelog-store.json"} {
		if strings.Contains(r.URL.Path, part) {
			return part
		}
	}
	if r.URL.Query().Has("list-type") || r.URL.Query().Has("prefix") {
		return "list"
	}
	return "other"
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	k := class(r)
	c.mu.Lock()
	if c.reqs != nil {
		c.reqs[r.Method+" "+k]++
	}
	c.mu.Unlock()
	resp, err := c.next.RoundTrip(r)
	if err == nil {
		resp.Body = &countingBody{ReadCloser: resp.Body, add: func(n int) {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.bytes != nil {
				c.bytes[k] += int64(n)
			}
		}}
	}
	return resp, err
}

func (c *countingTransport) count(method, k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reqs[method+" "+k]
}

func (c *countingTransport) bytesOf(k string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes[k]
}

func (c *countingTransport) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.reqs {
		n += v
	}
	return n
}

func (c *countingTransport) summary() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var parts []string
	for k, v := range c.reqs {
		parts = append(parts, k+": "+strconv.Itoa(v))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

type countingBody struct {
	io.ReadCloser
	add func(int)
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.add(n)
	return n, err
}
