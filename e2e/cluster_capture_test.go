package e2e

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/internal/workload"
	"github.com/tidelog/tidelog/oplog"
)

// member is one replica set of a stand-in cluster: a FerretDB with a
// replica set name of its own, and a client to write and dump with.
type member struct {
	name   string
	srv    *testserver.Server
	client *mongo.Client
}

// clusterPoint is one recorded cluster time and every replica set's state
// at that time.
type clusterPoint struct {
	ts     oplog.Timestamp
	states map[string]workload.State
}

// The promise for clusters: one tailerd, given only the config
// server, captures the config server and every shard listed in its
// config.shards — including a shard added while it runs — through a
// SIGKILL; then every replica set restored to one recorded cluster time
// equals its state at that time, at 3 times.
func TestClusterCaptureSurvivesKillAndRestoresEveryShard(t *testing.T) {
	ctx := context.Background()
	names := []string{"cfg", "shard1", "shard2", "shard3"}
	members := startMembers(t, names)
	cfg := members["cfg"]
	// shard3 exists (with data) from the start, but joins the cluster later.
	for _, name := range []string{"shard1", "shard2"} {
		addShard(t, cfg, members[name])
	}
	writers := map[string]*workload.Workload{}
	for i, name := range names {
		writers[name] = workload.New(members[name].client, uint64(100+i))
		must(t, writers[name].Bulk(ctx, "app.events", 300))
	}

	work := t.TempDir()
	store := filepath.Join(work, "store")
	logPath := filepath.Join(work, "tailerd.log")
	args := []string{"--source", cfg.srv.URI, "--store", store, "--cut-age", "300ms", "--cut-bytes", "65536",
		"--discover-every", "500ms", "--log-level", "debug"}
	d := startTailerd(t, logPath, args...)
	waitForLog(t, 30*time.Second, logPath, func() bool { return tailing(d, "cfg", "shard1", "shard2") })
	if tailing(d, "shard3") {
		t.Fatalf("shard3 is not in config.shards yet, but is captured:\n%s", d.Output())
	}

	// Writers run on every replica set at once while tailerd works; a
	// point is recorded with them paused, so that each replica set's state
	// is its state at the point.
	var points []clusterPoint
	run := &pausable{}
	stopWriters := run.start(t, names, writers)
	defer stopWriters()
	record := func() {
		run.pause()
		defer run.resume()
		points = append(points, recordCluster(t, members))
	}

	run.waitSteps(t, 3)
	record()
	addShard(t, cfg, members["shard3"])
	waitForLog(t, 30*time.Second, logPath, func() bool { return tailing(d, "shard3") })

	run.waitSteps(t, 3)
	d.kill() // the writers go on while tailerd is down
	run.waitSteps(t, 2)
	d = startTailerd(t, logPath, args...)
	run.waitSteps(t, 2)
	record()
	run.waitSteps(t, 3)
	record()
	stopWriters()
	// A replica set's capture proves nothing past its newest entry, so
	// the last point is restorable only once every replica set has written
	// after it: a MongoDB primary's periodic no-op does that every 10 s,
	// FerretDB has none, so the test writes one entry on each.
	for _, name := range names {
		_, err := members[name].client.Database("tick").Collection("tick").InsertOne(ctx, bson.D{{Key: "at", Value: time.Now()}})
		must(t, err)
	}

	last := points[len(points)-1].ts
	for _, name := range names {
		waitStreamRestorable(t, store, logPath, name, last)
	}
	if code := d.stop(t); code != 0 {
		t.Fatalf("tailerd exited %d on SIGTERM, want 0\n%s", code, logTail(logPath))
	}
	if code, out, errOut := replayer(t, "verify", "--store", store); code != 0 {
		t.Fatalf("replayer verify: exit %d\n%s%s", code, out, errOut)
	}
	l := list(t, store)
	var streams []string
	for _, s := range l.Streams {
		streams = append(streams, s.Name)
		if len(s.Gaps) != 0 {
			t.Errorf("stream %s: gaps recorded in a run without rollover: %+v", s.Name, s.Gaps)
		}
	}
	if !slices.Equal(streams, names) {
		t.Fatalf("streams %v, want one per replica set %v", streams, names)
	}

	for i, p := range points {
		targets := startMembers(t, names)
		args := []string{"restore", "--store", store, "--cluster", "--to", p.ts.String()}
		for _, name := range names {
			args = append(args, "--target-for", name+"="+targets[name].srv.URI)
		}
		code, out, errOut := replayer(t, args...)
		if code != 0 {
			t.Fatalf("cluster restore to point %d (%s): exit %d\n%s%s", i, p.ts, code, out, errOut)
		}
		for _, name := range names {
			if diff := workload.Diff(p.states[name], mustDump(t, targets[name].client)); diff != "" {
				t.Errorf("%s restored to point %d (%s) differs from its state then:\n%s", name, i, p.ts, diff)
			}
		}
	}
}

// startMembers starts one FerretDB per name, at once, each reporting its
// name as its replica set name.
func startMembers(t *testing.T, names []string) map[string]*member {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out := map[string]*member{}
	errs := make([]error, len(names))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, name := range names {
		dir := t.TempDir()
		wg.Go(func() {
			srv, err := testserver.Start(ctx, testserver.Options{Dir: dir, ReplSetName: name})
			if err != nil {
				errs[i] = err
				return
			}
			t.Cleanup(func() { srv.Close() })
			c, err := srv.Client()
			if err != nil {
				errs[i] = err
				return
			}
			t.Cleanup(func() { c.Disconnect(context.Background()) })
			mu.Lock()
			out[name] = &member{name: name, srv: srv, client: c}
			mu.Unlock()
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("start FerretDB %s: %v", names[i], err)
		}
	}
	return out
}

// addShard lists m in cfg's config.shards as a real config server does.
func addShard(t *testing.T, cfg, m *member) {
	t.Helper()
	doc := bson.D{{Key: "_id", Value: m.name}, {Key: "host", Value: m.name + "/" + m.srv.Addr}, {Key: "state", Value: 1}}
	_, err := cfg.client.Database("config").Collection("shards").ReplaceOne(context.Background(),
		bson.D{{Key: "_id", Value: m.name}}, doc, options.Replace().SetUpsert(true))
	must(t, err)
}

// tailing says whether the daemon's log shows a pipeline tailing each
// stream.
func tailing(d *daemon, streams ...string) bool {
	for _, s := range streams {
		if !d.Logged(`"stream":"`+s+`"`, "tailing the oplog") {
			return false
		}
	}
	return true
}

// recordCluster reads every replica set's newest oplog entry and state,
// with no writes running, and waits until the clock has left the newest
// second, so that no later write can carry a timestamp at or below the
// point. (Each server numbers entries within a second on its own: without
// the wait, a later write on one server could sort before another's last.)
func recordCluster(t *testing.T, members map[string]*member) clusterPoint {
	t.Helper()
	p := clusterPoint{states: map[string]workload.State{}}
	for _, name := range slices.Sorted(maps.Keys(members)) {
		m := members[name]
		if ts := lastTS(t, m.srv, m.client); p.ts.Before(ts) {
			p.ts = ts
		}
		p.states[name] = mustDump(t, m.client)
	}
	waitFor(t, 3*time.Second, func() bool { return time.Now().Unix() > int64(p.ts.T) })
	return p
}

// waitStreamRestorable waits until one stream of the store is restorable
// through ts.
func waitStreamRestorable(t *testing.T, store, logPath, stream string, ts oplog.Timestamp) {
	t.Helper()
	waitForLog(t, 60*time.Second, logPath, func() bool {
		l, _ := listIfThere(t, store)
		for _, s := range l.Streams {
			if s.Name == stream && s.Restorable != nil {
				to, err := oplog.Parse(s.Restorable.To)
				return err == nil && !to.Before(ts)
			}
		}
		return false
	})
}

// pausable runs one writer per replica set, each doing steps of 20
// operations, until stopped; pause holds them all between steps.
type pausable struct {
	mu    sync.RWMutex // writers hold it for reading during a step
	count func() int
	errc  chan error
}

func (p *pausable) start(t *testing.T, names []string, writers map[string]*workload.Workload) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	p.errc = make(chan error, len(names))
	counts := make([]int, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		w := writers[name]
		wg.Go(func() {
			for ctx.Err() == nil {
				p.mu.RLock()
				err := w.Step(ctx, 20)
				if err == nil {
					counts[i]++
				}
				p.mu.RUnlock()
				if err != nil && ctx.Err() == nil {
					p.errc <- fmt.Errorf("writer %s: %w", name, err)
					return
				}
			}
		})
	}
	p.count = func() int {
		p.mu.Lock()
		defer p.mu.Unlock()
		return slices.Min(counts)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			wg.Wait()
			select {
			case err := <-p.errc:
				t.Error(err)
			default:
			}
		})
	}
}

func (p *pausable) pause()  { p.mu.Lock() }
func (p *pausable) resume() { p.mu.Unlock() }

// waitSteps waits until every writer has done n more steps.
func (p *pausable) waitSteps(t *testing.T, n int) {
	t.Helper()
	from := p.count()
	waitFor(t, 2*time.Minute, func() bool { return p.count() >= from+n })
}
