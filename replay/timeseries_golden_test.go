package replay

import (
	"context"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/dump"
	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/oplog"
)

// memReplay replays entries onto documents held in memory through the
// applier's own selection (checkOne) and document engine (simulate): the
// path every CRUD entry takes, minus the fetch and the write, which the
// server-backed tests cover. It serves fixtures FerretDB cannot host.
// state maps namespace -> idKey -> document.
func memReplay(t *testing.T, a *Applier, state map[string]map[string]bson.Raw, entries []bson.Raw) {
	t.Helper()
	for _, e := range entries {
		ns, err := a.checkOne(e)
		if err != nil {
			t.Fatalf("check: %v", err)
		}
		op, _ := oplog.EntryOp(e)
		if ns == "" || (op != "i" && op != "u" && op != "d") {
			t.Fatalf("entry %s is not a write the applier keeps: %s", op, e)
		}
		ts, _ := oplog.EntryTS(e)
		id, err := docID(op[0], e)
		if err != nil {
			t.Fatal(err)
		}
		docs := state[ns]
		if docs == nil {
			docs = map[string]bson.Raw{}
			state[ns] = docs
		}
		st := &docState{id: id, fetched: true}
		st.doc, st.exists = docs[idKey(id)]
		if err := a.w.simulate(st, crudOp{op: op[0], ns: ns, ts: ts, entry: e, id: id}); err != nil {
			t.Fatal(err)
		}
		if st.exists {
			docs[idKey(id)] = st.doc
		} else {
			delete(docs, idKey(id))
		}
	}
}

func readBSON(t *testing.T, path string) []bson.Raw {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := dump.NewBSONReader(f, path)
	var out []bson.Raw
	for {
		doc, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, append(bson.Raw(nil), doc...))
	}
}

// The 5.0 timeseries capture (a mongodump with --oplog) holds 10 buckets
// and 872 $v:2 diffs that append measurements to them and move
// control.max. FerretDB cannot host system.buckets, so the oplog is replayed
// in memory, and the result is checked against what a timeseries bucket
// must be, independently of the diff applier:
//   - every data column (_id, ts, measurement) holds the keys "0".."n-1" in
//     order, the same n in each: no measurement half applied;
//   - control.min and control.max are the extremes of the columns (min.ts
//     rounded down to the second, as the server does);
//   - the workload, one session of retryable inserts, wrote measurement m
//     for device m%10 twice over: m = 0..999, then m = 0, 1, 2, ... So each
//     m up to the highest the oplog names is in its device's bucket twice
//     below 1000 and once above, and the total is the session's last
//     txnNumber (one insert each).
//
// Replaying the oplog a second time (it overlaps the dump) changes nothing.
func TestTimeseriesFixtureInMemory(t *testing.T) {
	dir := filepath.Join(testserver.RepoRoot(), "..", "shared", "fixtures", "mongo-tools",
		"mongorestore", "testdata", "timeseries_tests", "ts_dump_with_oplog")
	const ns = "timeseries_test.system.buckets.foo_ts"
	base := readBSON(t, filepath.Join(dir, "timeseries_test", "system.buckets.foo_ts.bson"))
	entries := readBSON(t, filepath.Join(dir, "oplog.bson"))
	if len(base) != 10 || len(entries) != 872 {
		t.Fatalf("fixture: %d buckets and %d entries, want 10 and 872", len(base), len(entries))
	}

	state := map[string]map[string]bson.Raw{ns: {}}
	for _, d := range base {
		state[ns][idKey(d.Lookup("_id"))] = d
	}
	a := NewApplier(nil, Options{}, zerolog.Nop())
	memReplay(t, a, state, entries)
	if s := a.Stats(); s.Updates != 872 || s.UpdateMisses != 0 {
		t.Fatalf("stats %+v: want 872 updates and no misses", s)
	}

	highest := int32(-1)
	for _, e := range entries {
		diff := e.Lookup("o", "diff", "sdata", "smeasurement", "i").Document()
		vals, _ := diff.Values()
		for _, v := range vals {
			highest = max(highest, v.Int32())
		}
	}
	total := entries[len(entries)-1].Lookup("txnNumber").Int64()
	checkBuckets(t, state[ns], highest, total)
	first := snapshot(state[ns])

	memReplay(t, a, state, entries)
	if again := snapshot(state[ns]); !maps.Equal(first, again) {
		t.Fatal("replaying the oplog a second time changed the buckets")
	}
}

// The same capture replayed onto FerretDB, which keeps the buckets as an
// ordinary collection: the fetch and the write of 872 diffs against
// 10 documents of ~10 KiB give the same consistent buckets.
func TestTimeseriesFixtureOnServer(t *testing.T) {
	dir := filepath.Join(testserver.RepoRoot(), "..", "shared", "fixtures", "mongo-tools",
		"mongorestore", "testdata", "timeseries_tests", "ts_dump_with_oplog")
	ctx := context.Background()
	srv := testserver.StartT(t, testserver.Options{NoOplog: true})
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(ctx)
	buckets := c.Database("timeseries_test").Collection("system.buckets.foo_ts")
	var base []any
	for _, d := range readBSON(t, filepath.Join(dir, "timeseries_test", "system.buckets.foo_ts.bson")) {
		base = append(base, d)
	}
	if _, err := buckets.InsertMany(ctx, base); err != nil {
		t.Fatal(err)
	}
	entries := readBSON(t, filepath.Join(dir, "oplog.bson"))
	stats, _, err := Replay(ctx, OplogFile(filepath.Join(dir, "oplog.bson"), oplog.Max), c, Options{}, Keep, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if stats.Updates != 872 || stats.UpdateMisses != 0 {
		t.Fatalf("stats %+v: want 872 updates and no misses", stats)
	}
	cur, err := buckets.Find(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bson.Raw{}
	for cur.Next(ctx) {
		got[idKey(cur.Current.Lookup("_id"))] = append(bson.Raw(nil), cur.Current...)
	}
	if err := cur.Err(); err != nil {
		t.Fatal(err)
	}
	highest := int32(-1)
	for _, e := range entries {
		vals, _ := e.Lookup("o", "diff", "sdata", "smeasurement", "i").Document().Values()
		for _, v := range vals {
			highest = max(highest, v.Int32())
		}
	}
	if len(got) != 10 {
		t.Fatalf("%d buckets on the target, want 10", len(got))
	}
	checkBuckets(t, got, highest, entries[len(entries)-1].Lookup("txnNumber").Int64())
}

func snapshot(docs map[string]bson.Raw) map[string]string {
	out := map[string]string{}
	for k, d := range docs {
		out[k] = string(d)
	}
	return out
}

func checkBuckets(t *testing.T, buckets map[string]bson.Raw, highest int32, total int64) {
	t.Helper()
	seen := map[int32]int{}
	var count int64
	for _, b := range buckets {
		id := b.Lookup("_id").String()
		device := b.Lookup("meta", "device").Int32()
		cols := map[string][]bson.RawValue{}
		for _, f := range []string{"_id", "ts", "measurement"} {
			col, ok := b.Lookup("data", f).DocumentOK()
			if !ok {
				t.Fatalf("bucket %s: no data.%s", id, f)
			}
			elems, _ := col.Elements()
			for i, el := range elems {
				if el.Key() != strconv.Itoa(i) {
					t.Fatalf("bucket %s: data.%s key %d is %q", id, f, i, el.Key())
				}
				cols[f] = append(cols[f], el.Value())
			}
		}
		n := len(cols["_id"])
		if len(cols["ts"]) != n || len(cols["measurement"]) != n {
			t.Fatalf("bucket %s: columns of %d, %d and %d values", id, n, len(cols["ts"]), len(cols["measurement"]))
		}
		var ms, ts []int64
		var ids []string
		for i := range n {
			m := cols["measurement"][i].Int32()
			if m%10 != device {
				t.Errorf("bucket %s (device %d) holds measurement %d", id, device, m)
			}
			seen[m]++
			count++
			ms = append(ms, int64(m))
			ts = append(ts, cols["ts"][i].DateTime())
			ids = append(ids, cols["_id"][i].ObjectID().Hex())
		}
		want := func(field string, got bson.RawValue, v any) {
			var ok bool
			switch v := v.(type) {
			case int64:
				if got.Type == bson.TypeDateTime {
					ok = got.DateTime() == v
				} else {
					ok = int64(got.Int32()) == v
				}
			case string:
				ok = got.ObjectID().Hex() == v
			}
			if !ok {
				t.Errorf("bucket %s: control.%s is %s, want %v", id, field, got, v)
			}
		}
		second := int64(time.Second / time.Millisecond)
		want("min.measurement", b.Lookup("control", "min", "measurement"), slices.Min(ms))
		want("max.measurement", b.Lookup("control", "max", "measurement"), slices.Max(ms))
		want("min.ts", b.Lookup("control", "min", "ts"), slices.Min(ts)/second*second)
		want("max.ts", b.Lookup("control", "max", "ts"), slices.Max(ts))
		want("min._id", b.Lookup("control", "min", "_id"), slices.Min(ids))
		want("max._id", b.Lookup("control", "max", "_id"), slices.Max(ids))
	}
	for m := range max(highest+1, 1000) {
		want := 0
		if m <= highest {
			want++
		}
		if m < 1000 {
			want++
		}
		if seen[m] != want {
			t.Errorf("measurement %d is in the buckets %d times, want %d", m, seen[m], want)
		}
	}
	if len(seen) != int(max(highest+1, 1000)) || count != total {
		t.Errorf("%d measurements (%d distinct), want %d (%d distinct)", count, len(seen), total, max(highest+1, 1000))
	}
}
