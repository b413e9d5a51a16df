package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/internal/workload"
	"github.com/tidelog/tidelog/oplog"
)

// crNames are the replica sets standing in for a sharded cluster: a
// config server and two shards, each its own FerretDB reporting that
// replica set name, each captured by its own tailerd into one store.
var crNames = []string{"cfg", "shard1", "shard2"}

// crPoint is one cluster time and every source's state then.
type crPoint struct {
	ts     oplog.Timestamp
	states map[string]workload.State
}

// A whole cluster restored to one timestamp: three sources written to at
// once, three tailers into one directory store, then `replayer restore
// --cluster` onto three fresh targets at each recorded timestamp — every
// target equals its own source at that timestamp. Before that: a stream
// without a target is refused before any write, the dry run plans every
// stream, a position past one stream's capture is refused listing every
// stream's windows, and an occupied target is found before any target is
// written.
func TestClusterRestoreEveryStreamToOneTimestamp(t *testing.T) {
	ctx := context.Background()
	work := t.TempDir()
	store := filepath.Join(work, "store")
	sources := map[string]*testserver.Server{}
	clients := map[string]*mongo.Client{}
	writers := map[string]*workload.Workload{}
	var tailers []*daemon
	var logs []string
	for i, name := range crNames {
		src := testserver.StartT(t, testserver.Options{ReplSetName: name})
		c, err := src.Client()
		must(t, err)
		defer c.Disconnect(ctx)
		sources[name], clients[name], writers[name] = src, c, workload.New(c, uint64(70+i))
		logPath := filepath.Join(work, "tailerd-"+name+".log")
		logs = append(logs, logPath)
		tailers = append(tailers, startTailerd(t, logPath, "--source", src.URI, "--store", store, "--stream", name,
			"--checkpoint", filepath.Join(work, "checkpoint-"+name), "--cut-age", "300ms", "--cut-bytes", "65536"))
	}

	var points []crPoint
	for phase := 0; phase < 3; phase++ {
		for i, name := range crNames {
			must(t, writers[name].Step(ctx, 60+20*i))
		}
		if phase == 1 {
			must(t, writers["shard2"].Bulk(ctx, "app.events", 800))
		}
		points = append(points, crRecord(t, sources, clients))
	}
	// Every stream must reach past the last point for it to be restorable on
	// all (a window ends at its stream's last entry).
	for _, name := range crNames {
		must(t, writers[name].Step(ctx, 10))
	}
	last := points[len(points)-1].ts
	for i, name := range crNames {
		waitForLog(t, 60*time.Second, logs[i], func() bool { return crRestorableTo(t, store, name, last) })
	}
	for i, d := range tailers {
		if code := d.stop(t); code != 0 {
			t.Fatalf("tailerd %s exited %d\n%s", crNames[i], code, logTail(logs[i]))
		}
	}

	targets := map[string]*testserver.Server{}
	var targetArgs []string
	for _, name := range crNames {
		targets[name] = testserver.StartT(t, testserver.Options{NoOplog: true, ReplSetName: name})
		targetArgs = append(targetArgs, "--target-for", name+"="+targets[name].URI)
	}
	cfgClient, err := targets["cfg"].Client()
	must(t, err)
	defer cfgClient.Disconnect(ctx)
	for _, name := range crNames[1:] {
		_, err := cfgClient.Database("config").Collection("shards").InsertOne(ctx, bson.D{{Key: "_id", Value: name}, {Key: "host", Value: name + "/" + targets[name].Addr}})
		must(t, err)
	}
	restoreArgs := func(to oplog.Timestamp, extra ...string) []string {
		return append(append([]string{"restore", "--store", store, "--cluster", "--to", to.String()}, targetArgs...), extra...)
	}

	t.Run("a stream without a target is refused before any write", func(t *testing.T) {
		code, out, errOut := replayer(t, "restore", "--store", store, "--cluster", "--to", points[0].ts.String(), targetArgs[0], targetArgs[1], targetArgs[2], targetArgs[3])
		t.Logf("without a target for shard2: %s", errOut)
		if code != 2 || !strings.Contains(errOut, "no target for stream shard2") || !strings.Contains(errOut, "--skip-stream") {
			t.Errorf("exit %d, want 2 naming shard2 and --skip-stream\n%s%s", code, out, errOut)
		}
		for _, name := range crNames {
			if n := crState(t, targets[name]).Documents(); n != 0 {
				t.Errorf("target of %s holds %d documents after a refused restore", name, n)
			}
		}
	})

	t.Run("dry run plans every stream", func(t *testing.T) {
		code, out, errOut := replayer(t, "restore", "--store", store, "--cluster", "--dry-run")
		if code != 0 {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
		if !strings.Contains(out, "plan: restore the cluster (3 streams) to ") || !strings.Contains(out, "the latest position restorable on every stream") {
			t.Errorf("dry run does not name the common position:\n%s", out)
		}
		for _, name := range crNames {
			if !strings.Contains(out, "plan: restore stream "+name+" to ") {
				t.Errorf("dry run has no plan for %s:\n%s", name, out)
			}
		}
		t.Logf("replayer restore --cluster --dry-run:\n%s", out)
		code, out, errOut = replayer(t, restoreArgs(points[1].ts, "--dry-run")...)
		if code != 0 || strings.Count(out, "plan: restore stream ") != 3 || !strings.Contains(out, "to "+points[1].ts.String()) ||
			!strings.Contains(out, "stream shard2 -> "+targets["shard2"].URI) {
			t.Errorf("dry run with targets: exit %d\n%s%s", code, out, errOut)
		}
	})

	t.Run("a position past one stream's capture is refused", func(t *testing.T) {
		code, out, errOut := replayer(t, restoreArgs(oplog.Timestamp{T: last.T + 3600})...)
		if code != 3 || !strings.Contains(errOut, "not restorable on every replica set") {
			t.Errorf("exit %d, want 3\n%s%s", code, out, errOut)
		}
		for _, name := range crNames {
			if !strings.Contains(errOut, name+": ") {
				t.Errorf("the refusal does not list %s's windows:\n%s", name, errOut)
			}
		}
	})

	for i, p := range points {
		var extra []string
		if i > 0 {
			extra = []string{"--drop"}
		}
		args := restoreArgs(p.ts, extra...)
		if i == len(points)-1 {
			// The discovered form: the config server's config.shards names
			// the shards' targets, matched to the streams by name.
			args = []string{"restore", "--store", store, "--cluster", "--to", p.ts.String(), "--drop", "--target", targets["cfg"].URI}
		}
		code, out, errOut := replayer(t, args...)
		if code != 0 {
			t.Fatalf("cluster restore to %s: exit %d\n%s%s", p.ts, code, out, errOut)
		}
		if i == 0 {
			t.Logf("replayer restore --cluster:\n%s", out)
		}
		if !strings.Contains(out, "summary: cluster restored: 3 streams to "+p.ts.String()) {
			t.Errorf("no cluster summary line:\n%s", out)
		}
		for _, name := range crNames {
			if !strings.Contains(out, fmt.Sprintf("summary: stream %-12s %-11s to %s", name, "completed", p.ts)) {
				t.Errorf("no summary line for %s:\n%s", name, out)
			}
			if !strings.Contains(errOut, `"stream":"`+name+`"`) {
				t.Errorf("no log line names stream %s", name)
			}
			if d := workload.Diff(p.states[name], crState(t, targets[name])); d != "" {
				t.Errorf("cluster restore to point %d (%s): %s differs from its source then:\n%s", i, p.ts, name, d)
			}
		}
		if i == 0 {
			// Occupied targets: refused (6) before any of them is written.
			code, out, errOut := replayer(t, restoreArgs(points[1].ts)...)
			if code != 6 || !strings.Contains(errOut, "nothing was written to any target") || !strings.Contains(errOut, "check the target of stream ") {
				t.Errorf("restore onto occupied targets: exit %d, want 6 saying nothing was written\n%s%s", code, out, errOut)
			}
			for _, name := range crNames {
				if d := workload.Diff(p.states[name], crState(t, targets[name])); d != "" {
					t.Errorf("a refused restore changed the target of %s:\n%s", name, d)
				}
			}
		}
	}
}

// crRecord pauses nothing (the caller writes in turns): it takes the
// newest last position of the sources as the cluster time, and every
// source's state, which is its state at that time since none has written
// since its own last entry. FerretDB stamps entries with the wall clock's
// second and a counter per process, so a later write in the same second
// could sort before that time on another source: it waits for the next
// second before the writes go on.
func crRecord(t *testing.T, sources map[string]*testserver.Server, clients map[string]*mongo.Client) crPoint {
	t.Helper()
	p := crPoint{states: map[string]workload.State{}}
	for _, name := range crNames {
		if ts := lastTS(t, sources[name], clients[name]); ts.After(p.ts) {
			p.ts = ts
		}
		p.states[name] = mustDump(t, clients[name])
	}
	waitFor(t, 5*time.Second, func() bool { return time.Now().Unix() > int64(p.ts.T) })
	return p
}

// crRestorableTo tells whether stream's restorable window reaches
// past ts.
func crRestorableTo(t *testing.T, store, stream string, ts oplog.Timestamp) bool {
	t.Helper()
	for _, s := range list(t, store).Streams {
		if s.Name != stream || s.Restorable == nil {
			continue
		}
		to, err := oplog.Parse(s.Restorable.To)
		return err == nil && to.After(ts)
	}
	return false
}

func crState(t *testing.T, s *testserver.Server) workload.State {
	t.Helper()
	c, err := s.Client()
	must(t, err)
	defer c.Disconnect(context.Background())
	return mustDump(t, c)
}

// Chunk migrations, in the shape the oplog schema gives them (no real
// capture of one exists in the fixtures): moving a chunk inserts its
// documents on the recipient with fromMigrate: true, and the range deleter
// later deletes them on the donor, also with fromMigrate: true. A cluster
// restore onto one target per replica set must apply both, or the moved
// document would be on no shard (recipient insert skipped) or on both
// (donor delete skipped). Restored before the donor's delete, the document
// is on both, as it was on the real shards then (the donor's copy an
// orphan a router filters out).
func TestClusterRestoreAppliesChunkMigrations(t *testing.T) {
	store := filepath.Join(t.TempDir(), "store")
	const ns = "app.moved"
	at := func(i uint32) bson.Timestamp { return bson.Timestamp{T: 1700000000, I: i} }
	noop := func(i uint32) bson.Raw {
		return oplogEntry(t, at(i), "n", "", bson.D{{Key: "msg", Value: "periodic noop"}})
	}
	migrated := func(e []byte) bson.Raw {
		var d bson.D
		must(t, bson.Unmarshal(e, &d))
		b, err := bson.Marshal(append(d, bson.E{Key: "fromMigrate", Value: true}))
		must(t, err)
		return b
	}
	doc := func(id int32) bson.D {
		return bson.D{{Key: "_id", Value: id}, {Key: "v", Value: fmt.Sprint("doc", id)}}
	}
	writeSegments(t, store, "cfg", [][]bson.Raw{{noop(1), oplogEntry(t, at(2), "i", "conf.meta", bson.D{{Key: "_id", Value: "m"}})}, {noop(20)}})
	writeSegments(t, store, "shard1", [][]bson.Raw{ // donor
		{noop(1), oplogEntry(t, at(3), "i", ns, doc(1)), oplogEntry(t, at(4), "i", ns, doc(2))},
		{migrated(oplogEntry(t, at(12), "d", ns, bson.D{{Key: "_id", Value: int32(1)}})), noop(20)},
	})
	writeSegments(t, store, "shard2", [][]bson.Raw{ // recipient
		{noop(1), migrated(oplogEntry(t, at(10), "i", ns, doc(1)))},
		{noop(20)},
	})
	cases := []struct {
		to           uint32
		donor, recip []string
	}{
		{5, []string{"1", "2"}, nil},            // before the move
		{11, []string{"1", "2"}, []string{"1"}}, // copied, donor's range not yet deleted
		{20, []string{"2"}, []string{"1"}},      // moved
	}
	targets := map[string]*testserver.Server{}
	var args []string
	for _, name := range crNames {
		targets[name] = testserver.StartT(t, testserver.Options{NoOplog: true})
		args = append(args, "--target-for", name+"="+targets[name].URI)
	}
	if code, _, errOut := replayer(t, append([]string{"restore", "--store", store, "--cluster", "--cluster-target"}, args...)...); code != 2 || !strings.Contains(errOut, "chunk-migration") {
		t.Errorf("--cluster with --cluster-target: exit %d, want 2 explaining the chunk-migration writes\n%s", code, errOut)
	}
	for _, c := range cases {
		to := oplog.Timestamp{T: 1700000000, I: c.to}
		code, out, errOut := replayer(t, append([]string{"restore", "--store", store, "--cluster", "--drop", "--to", to.String()}, args...)...)
		if code != 0 {
			t.Fatalf("restore to %s: exit %d\n%s%s", to, code, out, errOut)
		}
		if got := crIDs(t, targets["shard1"], ns); strings.Join(got, ",") != strings.Join(c.donor, ",") {
			t.Errorf("at %s the donor holds %v, want %v", to, got, c.donor)
		}
		if got := crIDs(t, targets["shard2"], ns); strings.Join(got, ",") != strings.Join(c.recip, ",") {
			t.Errorf("at %s the recipient holds %v, want %v", to, got, c.recip)
		}
	}
}

// crIDs lists the _ids in ns on s, in order.
func crIDs(t *testing.T, s *testserver.Server, ns string) []string {
	t.Helper()
	c, err := s.Client()
	must(t, err)
	defer c.Disconnect(context.Background())
	db, coll, _ := strings.Cut(ns, ".")
	cur, err := c.Database(db).Collection(coll).Find(context.Background(), bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	must(t, err)
	var docs []bson.Raw
	must(t, cur.All(context.Background(), &docs))
	var out []string
	for _, d := range docs {
		out = append(out, fmt.Sprint(d.Lookup("_id").Int32()))
	}
	return out
}
