package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/tidelog/tidelog/follow"
	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/internal/workload"
	"github.com/tidelog/tidelog/oplog"
)

// A standby follows a live source through tailerd and a directory store
// while a writer keeps writing: the follower is SIGKILLed twice (once while
// it applies, once while it catches up right after a restart) and tailerd
// once, in between; each is restarted. Once the writer stops, the follower
// applies the source's last entry, and the target then equals the source
// collection by collection, with no document twice. Its /metrics show the
// applied timestamp and the entries applied moving; write→applied latency
// is measured along the way.
func TestFollowStandbySurvivesKills(t *testing.T) {
	ctx := context.Background()
	src := testserver.StartT(t, testserver.Options{})
	target := testserver.StartT(t, testserver.Options{NoOplog: true})
	sc, err := src.Client()
	must(t, err)
	defer sc.Disconnect(ctx)
	tc, err := target.Client()
	must(t, err)
	defer tc.Disconnect(ctx)

	work := t.TempDir()
	store := filepath.Join(work, "store")
	tailLog := filepath.Join(work, "tailerd.log")
	tailArgs := []string{"--source", src.URI, "--store", store, "--cut-age", "200ms", "--log-level", "debug"}
	tailer := startTailerd(t, tailLog, tailArgs...)

	w := startFollowWriter(t, sc)
	waitForLog(t, 60*time.Second, tailLog, func() bool {
		l, _ := listIfThere(t, store)
		return len(l.Streams) == 1 && len(l.Streams[0].Segments) > 0
	})

	followLog := filepath.Join(work, "follow.log")
	followArgs := []string{"follow", "--store", store, "--target", target.URI, "--checkpoint", filepath.Join(work, "follow-checkpoint"),
		"--poll", "100ms", "--http-addr", "127.0.0.1:0"}
	f := startFollower(t, followLog, followArgs...)
	var steady, restarts latencies

	// 1. Following while the writer writes; then SIGKILL the follower.
	restarts.add(t, f, src, sc) // includes the initial restore
	first := f.scrape(t)
	for range 10 {
		steady.add(t, f, src, sc)
	}
	f.kill()
	f = startFollower(t, followLog, followArgs...)

	// 2. The restarted follower catches up; SIGKILL tailerd, restart it.
	restarts.add(t, f, src, sc)
	tailer.kill()
	w.writeMore(t, 300) // written while nothing captures
	tailer = startTailerd(t, tailLog, tailArgs...)
	restarts.add(t, f, src, sc)

	// 3. SIGKILL the follower as soon as its restart applied something:
	//    in the middle of catching up.
	f.kill()
	w.writeMore(t, 300)
	f = startFollower(t, followLog, followArgs...)
	waitForLog(t, 60*time.Second, followLog, func() bool { return f.Logged("following the store") })
	f.kill()
	f = startFollower(t, followLog, followArgs...)
	early := f.scrape(t)
	restarts.add(t, f, src, sc)
	for range 10 {
		steady.add(t, f, src, sc)
	}

	// 4. The writer stops; the follower applies the source's last entry.
	w.stop(t)
	last, err := src.LastTS(ctx, sc)
	must(t, err)
	lastTS := oplog.Timestamp{T: last.T, I: last.I}
	waitForLog(t, 120*time.Second, followLog, func() bool { return f.applied(t, lastTS) })

	want, got := mustDump(t, sc), mustDump(t, tc)
	if d := workload.Diff(want, got); d != "" {
		t.Errorf("the standby differs from the source:\n%s", d)
		followBlame(t, store, want)
	}
	if got.Documents() < 300 {
		t.Errorf("only %d documents: the test should span a sustained workload", got.Documents())
	}
	if s, g := userCollections(t, sc), userCollections(t, tc); !slices.Equal(s, g) {
		t.Errorf("collections: source %v, standby %v", s, g)
	}

	// Metrics moved: within the first run and within the last.
	late := f.scrape(t)
	if !(first.applied > 0 && late.applied > early.applied && early.applied >= first.applied) {
		t.Errorf("%s did not move: first run %v, last run %v then %v", "tidelog_follow_applied_timestamp_seconds", first.applied, early.applied, late.applied)
	}
	if !(late.entries > early.entries) || late.stream != "rs0" {
		t.Errorf("tidelog_follow_entries_applied_total did not move in the last run: %v then %v (stream %q)", early.entries, late.entries, late.stream)
	}
	if code := f.get(t, "/readyz"); code != http.StatusOK {
		t.Errorf("/readyz: %d once caught up", code)
	}
	steady.report(t, "while following")
	restarts.report(t, "right after a restart (catching up what was written meanwhile; the first includes the initial restore)")

	if code := f.stop(t); code != 0 {
		t.Fatalf("replayer follow exited %d on SIGTERM, want 0\n%s", code, logTail(followLog))
	}
	if out := strings.TrimSpace(f.stdout.String()); out != lastTS.String() {
		t.Errorf("stdout on SIGTERM: %q, want the position applied, %s", out, lastTS)
	}
	if code := tailer.stop(t); code != 0 {
		t.Errorf("tailerd exited %d on SIGTERM", code)
	}
}

// followBlame tells, when the standby differs, whether a restore from the
// store differs too (the capture lost something) or only the follower.
func followBlame(t *testing.T, store string, want workload.State) {
	t.Helper()
	fresh := testserver.StartT(t, testserver.Options{NoOplog: true})
	code, out, errOut := replayer(t, "restore", "--store", store, "--target", fresh.URI)
	if code != 0 {
		t.Logf("restore from the store for comparison: exit %d\n%s%s", code, out, errOut)
		return
	}
	c, err := fresh.Client()
	must(t, err)
	defer c.Disconnect(context.Background())
	if d := workload.Diff(want, mustDump(t, c)); d != "" {
		t.Logf("a restore from the store differs from the source too (the capture is at fault, not the follower):\n%s", d)
	} else {
		t.Logf("a restore from the store equals the source: the follower is at fault")
	}
}

// followWriter writes the workload in the background, one write at a
// time (FerretDB's oplog is exact with one writer), until stopped.
type followWriter struct {
	mu     sync.Mutex
	writes int
	err    error
	halt   chan struct{}
	once   sync.Once
	done   chan struct{}
}

func startFollowWriter(t *testing.T, c *mongo.Client) *followWriter {
	t.Helper()
	fw := &followWriter{halt: make(chan struct{}), done: make(chan struct{})}
	w := workload.New(c, 7)
	go func() {
		defer close(fw.done)
		for {
			select {
			case <-fw.halt:
				return
			default:
			}
			err := w.Step(context.Background(), 5)
			fw.mu.Lock()
			fw.writes, fw.err = w.Writes, err
			fw.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		fw.once.Do(func() { close(fw.halt) })
		<-fw.done
	})
	return fw
}

// writeMore waits until the writer made n more writes.
func (fw *followWriter) writeMore(t *testing.T, n int) {
	t.Helper()
	fw.mu.Lock()
	from := fw.writes
	fw.mu.Unlock()
	waitFor(t, 60*time.Second, func() bool {
		fw.mu.Lock()
		defer fw.mu.Unlock()
		if fw.err != nil {
			t.Fatalf("writer: %v", fw.err)
		}
		return fw.writes >= from+n
	})
}

// stop ends the writer once its writes in flight are done: none lands
// after stop returns.
func (fw *followWriter) stop(t *testing.T) {
	t.Helper()
	fw.once.Do(func() { close(fw.halt) })
	<-fw.done
	if fw.err != nil {
		t.Fatalf("writer: %v", fw.err)
	}
}

// followerProc is a running `replayer follow`.
type followerProc struct {
	*daemon
	stdout *bytes.Buffer
}

func startFollower(t *testing.T, logPath string, args ...string) *followerProc {
	t.Helper()
	var stdout bytes.Buffer
	return &followerProc{daemon: startDaemon(t, "replayer", logPath, &stdout, args...), stdout: &stdout}
}

var httpAddrRE = regexp.MustCompile(`"http_addr":"([^"]+)"`)

// get fetches path from the follower's endpoint: status code and body
// (0 while the endpoint is not up).
func (f *followerProc) fetch(path string) (int, []byte) {
	m := httpAddrRE.FindStringSubmatch(f.Output())
	if m == nil {
		return 0, nil
	}
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + m[1] + path)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

func (f *followerProc) get(t *testing.T, path string) int {
	t.Helper()
	code, _ := f.fetch(path)
	return code
}

// status is the follower's /status (ok false while it is not up).
func (f *followerProc) status(t *testing.T) (follow.Status, bool) {
	t.Helper()
	code, body := f.fetch("/status")
	if code != http.StatusOK {
		return follow.Status{}, false
	}
	var s follow.Status
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatalf("/status: %v\n%s", err, body)
	}
	return s, true
}

// applied tells whether the follower applied through ts; it fails the test
// if the follower exited.
func (f *followerProc) applied(t *testing.T, ts oplog.Timestamp) bool {
	t.Helper()
	if f.Exited() {
		t.Fatalf("replayer follow exited %d\n%s", f.ExitCode(), f.Output())
	}
	s, ok := f.status(t)
	if !ok || s.Applied == "" {
		return false
	}
	a, err := oplog.Parse(s.Applied)
	must(t, err)
	return !a.Before(ts)
}

// followMetrics are the series the test watches.
type followMetrics struct {
	stream           string
	applied, entries float64
}

var metricRE = regexp.MustCompile(`(?m)^(tidelog_follow_applied_timestamp_seconds|tidelog_follow_entries_applied_total)\{stream="([^"]*)"\} (\S+)$`)

// scrape reads /metrics once the applied timestamp is among them.
func (f *followerProc) scrape(t *testing.T) followMetrics {
	t.Helper()
	var m followMetrics
	waitForLog(t, 60*time.Second, f.LogPath, func() bool {
		code, body := f.fetch("/metrics")
		if code != http.StatusOK {
			return false
		}
		m = followMetrics{}
		for _, g := range metricRE.FindAllStringSubmatch(string(body), -1) {
			v, err := strconv.ParseFloat(g[3], 64)
			must(t, err)
			m.stream = g[2]
			if g[1] == "tidelog_follow_applied_timestamp_seconds" {
				m.applied = v
			} else {
				m.entries = v
			}
		}
		return m.applied > 0
	})
	return m
}

// latencies are write→applied delays: from the moment an entry is the
// source's newest to the moment the follower reports it applied.
type latencies []time.Duration

func (l *latencies) add(t *testing.T, f *followerProc, src *testserver.Server, c *mongo.Client) {
	t.Helper()
	last, err := src.LastTS(context.Background(), c)
	must(t, err)
	ts := oplog.Timestamp{T: last.T, I: last.I}
	start := time.Now()
	deadline := start.Add(120 * time.Second)
	for !f.applied(t, ts) {
		if time.Now().After(deadline) {
			t.Fatalf("the follower did not apply %s within 120s\n%s", ts, logTail(f.LogPath))
		}
		time.Sleep(20 * time.Millisecond)
	}
	*l = append(*l, time.Since(start))
}

func (l latencies) report(t *testing.T, when string) {
	s := slices.Clone(l)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	for i := range s {
		s[i] = s[i].Round(10 * time.Millisecond)
	}
	t.Logf("write→applied %s (the source's newest entry, until the follower's /status has it): %v", when, s)
}

// userCollections lists every collection outside admin, config and local.
func userCollections(t *testing.T, c *mongo.Client) []string {
	t.Helper()
	ctx := context.Background()
	dbs, err := c.ListDatabaseNames(ctx, bson.D{})
	must(t, err)
	var out []string
	for _, db := range dbs {
		if db == "admin" || db == "config" || db == "local" {
			continue
		}
		colls, err := c.Database(db).ListCollectionNames(ctx, bson.D{})
		must(t, err)
		for _, coll := range colls {
			out = append(out, fmt.Sprintf("%s.%s", db, coll))
		}
	}
	sort.Strings(out)
	return out
}
