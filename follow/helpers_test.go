package follow

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/tidelog/tidelog/internal/testlog"
	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/segment"
	"github.com/tidelog/tidelog/store"
	"github.com/tidelog/tidelog/store/dirstore"
)

const stream = "rs0"

// fixture is a directory store the test writes segments into, a FerretDB
// target and a checkpoint directory.
type fixture struct {
	t      *testing.T
	st     *dirstore.Store
	w      *segment.Writer
	prev   segment.Link
	client *mongo.Client
	ckpt   string
	log    *testlog.Buffer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	st, err := dirstore.Open(filepath.Join(dir, "store"), true)
	if err != nil {
		t.Fatal(err)
	}
	target := testserver.StartT(t, testserver.Options{NoOplog: true})
	client, err := target.Client()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Disconnect(context.Background()) })
	return &fixture{t: t, st: st, w: segment.NewWriter(stream), client: client,
		ckpt: filepath.Join(dir, "checkpoint"), log: &testlog.Buffer{}}
}

// put stores entries as the next segment of the chain.
func (fx *fixture) put(entries ...bson.Raw) segment.Info {
	fx.t.Helper()
	fx.w.Start(fx.prev)
	for _, e := range entries {
		if err := fx.w.Append(e); err != nil {
			fx.t.Fatal(err)
		}
	}
	info, data, err := fx.w.Finish()
	if err != nil {
		fx.t.Fatal(err)
	}
	if err := fx.st.PutSegment(context.Background(), stream, info.Name, data); err != nil {
		fx.t.Fatal(err)
	}
	fx.prev = info.Link()
	return info
}

// running is a follower running in the background.
type running struct {
	f      *Follower
	cancel context.CancelFunc
	done   chan struct{}
	res    Result
	err    error
}

// start runs a follower with the fixture's store, target and checkpoint;
// edit adjusts its options.
func (fx *fixture) start(edit func(*Options)) *running {
	fx.t.Helper()
	opts := Options{Store: fx.st, Target: fx.client, TargetName: "target", CheckpointDir: fx.ckpt,
		Poll: 10 * time.Millisecond, Log: zerolog.New(fx.log)}
	if edit != nil {
		edit(&opts)
	}
	f, err := New(opts)
	if err != nil {
		fx.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{f: f, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.res, r.err = f.Run(ctx)
	}()
	fx.t.Cleanup(func() { r.stop(fx.t) })
	return r
}

// wait waits for Run to return by itself.
func (r *running) wait(t *testing.T) (Result, error) {
	t.Helper()
	select {
	case <-r.done:
		return r.res, r.err
	case <-time.After(60 * time.Second):
		t.Fatalf("the follower did not return within 60s; status %+v", r.f.Status())
		return Result{}, nil
	}
}

// stop cancels Run (SIGTERM) and waits for it.
func (r *running) stop(t *testing.T) (Result, error) {
	t.Helper()
	r.cancel()
	return r.wait(t)
}

// followThrough runs a follower until it has applied through ts, then
// stops it (SIGTERM).
func (fx *fixture) followThrough(ts oplog.Timestamp) {
	fx.t.Helper()
	r := fx.start(nil)
	fx.waitThrough(r, ts)
	if _, err := r.stop(fx.t); err != nil {
		fx.t.Fatal(err)
	}
}

// waitThrough waits until the follower has applied through ts.
func (fx *fixture) waitThrough(r *running, ts oplog.Timestamp) {
	fx.t.Helper()
	waitFor(fx.t, 60*time.Second, func() bool {
		select {
		case <-r.done:
			fx.t.Fatalf("the follower returned (%v) before applying through %s\n%s", r.err, ts, fx.log)
		default:
		}
		a := r.f.Status().Applied
		return a != "" && !mustTS(fx.t, a).Before(ts)
	})
}

// waitPolls waits until the follower looked at the store n more times.
func waitPolls(t *testing.T, r *running, n uint64) {
	t.Helper()
	from := r.f.Status().Polls
	waitFor(t, 30*time.Second, func() bool { return r.f.Status().Polls >= from+n })
}

// waitFor polls cond until it holds, failing the test after limit.
func waitFor(t *testing.T, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func mustTS(t *testing.T, s string) oplog.Timestamp {
	t.Helper()
	ts, err := oplog.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// docs lists d.c's documents as "_id=v", sorted.
func (fx *fixture) docs() []string {
	fx.t.Helper()
	return fx.docsIn("d.c")
}

// docsIn lists the documents of namespace ns as "_id=v", sorted.
func (fx *fixture) docsIn(ns string) []string {
	fx.t.Helper()
	db, coll, _ := strings.Cut(ns, ".")
	cur, err := fx.client.Database(db).Collection(coll).Find(context.Background(), bson.D{})
	if err != nil {
		fx.t.Fatal(err)
	}
	var out []string
	for cur.Next(context.Background()) {
		out = append(out, fmt.Sprintf("%d=%s", cur.Current.Lookup("_id").Int32(), cur.Current.Lookup("v").StringValue()))
	}
	if err := cur.Err(); err != nil {
		fx.t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// model is what d.c should hold: _id -> v.
type model map[int32]string

func (m model) want() []string {
	var out []string
	for id, v := range m {
		out = append(out, fmt.Sprintf("%d=%s", id, v))
	}
	sort.Strings(out)
	return out
}

func (fx *fixture) check(m model) {
	fx.t.Helper()
	got, want := fx.docs(), m.want()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		fx.t.Fatalf("target d.c:\n got  %v\n want %v\n%s", got, want, fx.log)
	}
}

func ts(t, i uint32) oplog.Timestamp { return oplog.Timestamp{T: t, I: i} }

const T0 = 1700000000

func raw(t *testing.T, d bson.D) bson.Raw {
	t.Helper()
	b, err := bson.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ins(t *testing.T, at oplog.Timestamp, id int32, v string) bson.Raw {
	return raw(t, bson.D{{Key: "ts", Value: at.BSON()}, {Key: "op", Value: "i"}, {Key: "ns", Value: "d.c"},
		{Key: "o", Value: bson.D{{Key: "_id", Value: id}, {Key: "v", Value: v}}}})
}

func upd(t *testing.T, at oplog.Timestamp, id int32, v string) bson.Raw {
	return raw(t, bson.D{{Key: "ts", Value: at.BSON()}, {Key: "op", Value: "u"}, {Key: "ns", Value: "d.c"},
		{Key: "o", Value: bson.D{{Key: "$v", Value: int32(1)}, {Key: "$set", Value: bson.D{{Key: "v", Value: v}}}}},
		{Key: "o2", Value: bson.D{{Key: "_id", Value: id}}}})
}

func del(t *testing.T, at oplog.Timestamp, id int32) bson.Raw {
	return raw(t, bson.D{{Key: "ts", Value: at.BSON()}, {Key: "op", Value: "d"}, {Key: "ns", Value: "d.c"},
		{Key: "o", Value: bson.D{{Key: "_id", Value: id}}}})
}

// txnPart is an applyOps entry of session 7's transaction 1 inserting ids
// into d.c with v "txn"; prev is the previous entry of the chain (zero: the
// first); count > 0 marks the final (commit) entry.
func txnPart(t *testing.T, at, prev oplog.Timestamp, count int, ids ...int32) bson.Raw {
	var ops bson.A
	for _, id := range ids {
		ops = append(ops, bson.D{{Key: "op", Value: "i"}, {Key: "ns", Value: "d.c"},
			{Key: "o", Value: bson.D{{Key: "_id", Value: id}, {Key: "v", Value: "txn"}}}})
	}
	o := bson.D{{Key: "applyOps", Value: ops}}
	if count > 0 {
		o = append(o, bson.E{Key: "count", Value: int64(count)})
	} else {
		o = append(o, bson.E{Key: "partialTxn", Value: true})
	}
	return raw(t, bson.D{
		{Key: "lsid", Value: bson.D{{Key: "id", Value: bson.Binary{Subtype: 4, Data: bytes.Repeat([]byte{7}, 16)}}}},
		{Key: "txnNumber", Value: int64(1)},
		{Key: "op", Value: "c"}, {Key: "ns", Value: "admin.$cmd"}, {Key: "o", Value: o},
		{Key: "ts", Value: at.BSON()},
		{Key: "prevOpTime", Value: bson.D{{Key: "ts", Value: prev.BSON()}, {Key: "t", Value: int64(1)}}},
	})
}

// inserts is n inserts from ts(T0, from), _id = I, v "v<I>", recorded in m.
func inserts(t *testing.T, m model, from, n uint32) []bson.Raw {
	var out []bson.Raw
	for i := from; i < from+n; i++ {
		out = append(out, ins(t, ts(T0, i), int32(i), fmt.Sprintf("v%d", i)))
		m[int32(i)] = fmt.Sprintf("v%d", i)
	}
	return out
}

var _ store.Store = (*dirstore.Store)(nil)

func itoa(i int32) string { return fmt.Sprint(i) }
