package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tidelog/tidelog/checkpoint"
	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/segment"
	"github.com/tidelog/tidelog/store"
	"github.com/tidelog/tidelog/store/dirstore"
	"github.com/tidelog/tidelog/store/kafkastore"
	"github.com/tidelog/tidelog/store/s3store"
	"github.com/tidelog/tidelog/tailer"
)

// The workload BenchmarkTailTo and BenchmarkPutSegment share, about
// 50,000 oplog entries (18 MB of raw BSON): orders, customers and events of
// about 300 bytes of BSON inserted in batches of 500, small hot collections
// (stock levels, carts) updated over and over with updateMany, and a range
// of old events deleted. FerretDB logs one entry per document for each (an
// update as a $set of the whole new document).
//
// Why not more: FerretDB (SQLite) answers every oplog query of the tailer's
// poll mode — {ts: {$gte: X}} sorted by ts, limit 10,000 — by reading and
// sorting the whole oplog, about 20 s at 100,000 entries on the 2-vCPU
// machine, so a tail is quadratic in the oplog's size and at 100,000 a
// single query comes close to the test client's 30 s timeout. The updates
// go to small collections because FerretDB scans the collection once per
// updated document (30 ms per update in a 10,000-document collection).
const (
	tailInserts   = 36000 // over orders, customers, events
	tailHot       = 100   // documents in each hot collection
	tailHotRounds = 30    // updateMany rounds over every hot collection
	tailDeletes   = 2000  // old events deleted
	tailBatch     = 500
	tailWaitMax   = 10 * time.Minute // bound on one iteration's wait for the tailer
	kafkaMaxSize  = 1048588          // Kafka's default message.max.bytes
)

var (
	tailColls    = []string{"orders", "customers", "events"}
	tailHotColls = []string{"stock", "carts", "sessions", "counters"}
)

// tailFixture is one FerretDB source with the workload written, its oplog
// read back, and the segments the tailer's cut rule makes of it, plus one
// MinIO and one kfake cluster. Built at most once per process, on first
// use, so every sub-benchmark sees exactly the same oplog and plain `go
// test` starts nothing.
type tailFixture struct {
	dir     string
	src     *testserver.Server
	client  *mongo.Client
	minio   *testserver.MinIO
	kafka   *kfake.Cluster
	newest  oplog.Timestamp
	entries int   // oplog entries
	raw     int64 // their raw BSON bytes
	segs    []builtSegment
	stored  int64  // the segments' bytes
	buckets int    // fresh buckets / topic prefixes handed out
	prep    string // how long each part of the preparation took
}

type builtSegment struct {
	info segment.Info
	data []byte
}

var (
	tailOnce sync.Once
	tailFix  *tailFixture
	tailErr  error
)

// TestMain stops the servers the store benchmarks started (they run in
// their own process groups and would outlive the test binary).
func TestMain(m *testing.M) {
	code := m.Run()
	if tailFix != nil {
		tailFix.close()
	}
	os.Exit(code)
}

func getTailFixture(b *testing.B) *tailFixture {
	b.Helper()
	tailOnce.Do(func() {
		start := time.Now()
		tailFix, tailErr = newTailFixture(context.Background())
		if tailErr == nil {
			b.Logf("source: %d oplog entries, %.1f MB raw, %d segments (%.1f MB) at the default cut of %d MiB; prepared in %s (%s)",
				tailFix.entries, float64(tailFix.raw)/1e6, len(tailFix.segs), float64(tailFix.stored)/1e6,
				tailer.DefaultCutBytes>>20, time.Since(start).Round(time.Second), tailFix.prep)
		}
	})
	if tailErr != nil {
		b.Fatal(tailErr)
	}
	return tailFix
}

func newTailFixture(ctx context.Context) (f *tailFixture, err error) {
	dir, err := os.MkdirTemp("", "tidelog-bench-store-")
	if err != nil {
		return nil, err
	}
	f = &tailFixture{dir: dir}
	defer func() {
		if err != nil {
			f.close()
			f = nil
		}
	}()
	for _, d := range []string{"ferretdb", "minio", "stores"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			return f, err
		}
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	if f.src, err = testserver.Start(sctx, testserver.Options{Dir: filepath.Join(dir, "ferretdb")}); err != nil {
		return f, err
	}
	// As tailerd connects: no per-operation timeout (the test servers'
	// Client has 30 s, which a full oplog scan on FerretDB can approach).
	if f.client, err = mongo.Connect(options.Client().ApplyURI(f.src.URI).SetAppName("tidelog-bench")); err != nil {
		return f, err
	}
	t0 := time.Now()
	if err := writeTailWorkload(sctx, f.client); err != nil {
		return f, err
	}
	f.prep = "workload " + time.Since(t0).Round(time.Second).String()
	ts, err := f.src.LastTS(sctx, f.client)
	if err != nil {
		return f, err
	}
	f.newest = oplog.Timestamp{T: ts.T, I: ts.I}
	t0 = time.Now()
	if err := f.buildSegments(sctx); err != nil {
		return f, err
	}
	f.prep += ", oplog read and cut " + time.Since(t0).Round(time.Second).String()
	if f.minio, err = testserver.StartMinIO(sctx, testserver.MinIOOptions{Dir: filepath.Join(dir, "minio")}); err != nil {
		return f, err
	}
	f.kafka, err = kfake.NewCluster(kfake.NumBrokers(1),
		kfake.BrokerConfigs(map[string]string{"message.max.bytes": strconv.Itoa(kafkaMaxSize)}))
	return f, err
}

func (f *tailFixture) close() {
	if f.client != nil {
		f.client.Disconnect(context.Background())
	}
	if f.src != nil {
		f.src.Close()
	}
	if f.minio != nil {
		f.minio.Close()
	}
	if f.kafka != nil {
		f.kafka.Close()
	}
	os.RemoveAll(f.dir)
}

// writeTailWorkload writes the fixed workload, reproducible from one seed.
func writeTailWorkload(ctx context.Context, c *mongo.Client) error {
	rng := rand.New(rand.NewPCG(2026, 12))
	db := c.Database("shop")
	statuses := []string{"new", "paid", "packed", "shipped", "delivered", "returned"}
	doc := func(id int) bson.D {
		return bson.D{
			{Key: "_id", Value: int32(id)},
			{Key: "customer", Value: fmt.Sprintf("cust-%06d", rng.IntN(50000))},
			{Key: "status", Value: statuses[rng.IntN(len(statuses))]},
			{Key: "total", Value: float64(rng.IntN(100000)) / 100},
			{Key: "created", Value: bson.DateTime(1_760_000_000_000 + int64(id)*1000)},
			{Key: "items", Value: bson.A{
				bson.D{{Key: "sku", Value: fmt.Sprintf("SKU-%05d", rng.IntN(20000))}, {Key: "qty", Value: int32(1 + rng.IntN(5))}},
				bson.D{{Key: "sku", Value: fmt.Sprintf("SKU-%05d", rng.IntN(20000))}, {Key: "qty", Value: int32(1 + rng.IntN(5))}},
			}},
			{Key: "address", Value: bson.D{{Key: "city", Value: fmt.Sprintf("city-%03d", rng.IntN(500))},
				{Key: "zip", Value: fmt.Sprintf("%05d", rng.IntN(100000))}, {Key: "line", Value: "221B Baker Street, flat 2"}}},
		}
	}
	insert := func(name string, from, to int) error {
		for start := from; start < to; start += tailBatch {
			docs := make([]any, 0, tailBatch)
			for id := start; id < min(start+tailBatch, to); id++ {
				docs = append(docs, doc(id))
			}
			if _, err := db.Collection(name).InsertMany(ctx, docs); err != nil {
				return fmt.Errorf("insert into shop.%s: %w", name, err)
			}
		}
		return nil
	}
	// Interleaved as a live shop writes: a batch to each collection in turn.
	per := tailInserts / len(tailColls)
	for start := 0; start < per; start += tailBatch {
		for _, name := range tailColls {
			if err := insert(name, start, min(start+tailBatch, per)); err != nil {
				return err
			}
		}
	}
	for _, name := range tailHotColls {
		if err := insert(name, 0, tailHot); err != nil {
			return err
		}
	}
	for round := range tailHotRounds {
		for _, name := range tailHotColls {
			res, err := db.Collection(name).UpdateMany(ctx, bson.D{}, bson.D{
				{Key: "$inc", Value: bson.D{{Key: "items.0.qty", Value: int32(1)}}},
				{Key: "$set", Value: bson.D{{Key: "status", Value: statuses[round%len(statuses)]},
					{Key: "total", Value: float64(rng.IntN(100000)) / 100}}}})
			if err != nil {
				return fmt.Errorf("update shop.%s: %w", name, err)
			}
			if res.ModifiedCount != tailHot {
				return fmt.Errorf("update shop.%s: %d documents modified, want %d", name, res.ModifiedCount, tailHot)
			}
		}
	}
	for start := 0; start < tailDeletes; start += tailBatch {
		filter := bson.D{{Key: "_id", Value: bson.D{{Key: "$gte", Value: int32(start)}, {Key: "$lt", Value: int32(start + tailBatch)}}}}
		if _, err := db.Collection("events").DeleteMany(ctx, filter); err != nil {
			return fmt.Errorf("delete from shop.events: %w", err)
		}
	}
	return nil
}

// buildSegments reads the whole oplog in ts order and cuts it as the
// tailer does (at DefaultCutBytes raw, the rest in a last segment).
func (f *tailFixture) buildSegments(ctx context.Context) error {
	cur, err := f.client.Database("local").Collection("oplog.rs").Find(ctx, bson.D{},
		options.Find().SetSort(bson.D{{Key: "ts", Value: 1}}))
	if err != nil {
		return fmt.Errorf("read the oplog: %w", err)
	}
	defer cur.Close(ctx)
	w := segment.NewWriter(testserver.ReplicaSet)
	cut := func() error {
		info, data, err := w.Finish()
		if err != nil {
			return err
		}
		f.segs = append(f.segs, builtSegment{info, bytes.Clone(data)})
		f.stored += int64(len(data))
		w.Start(info.Link())
		return nil
	}
	for cur.Next(ctx) {
		if err := w.Append(cur.Current); err != nil {
			return err
		}
		f.entries++
		f.raw += int64(len(cur.Current))
		if w.RawSize() >= tailer.DefaultCutBytes {
			if err := cut(); err != nil {
				return err
			}
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("read the oplog: %w", err)
	}
	if w.Count() > 0 {
		if err := cut(); err != nil {
			return err
		}
	}
	if last := f.segs[len(f.segs)-1].info.OpEnd; last != f.newest {
		return fmt.Errorf("oplog read back ends at %s, newest entry is %s", last, f.newest)
	}
	return nil
}

func (f *tailFixture) names() []string {
	var out []string
	for _, s := range f.segs {
		out = append(out, s.info.Name)
	}
	return out
}

// openStore opens a fresh, empty store of kind: a new directory, a new
// bucket, or a new topic prefix on the one kfake cluster.
func (f *tailFixture) openStore(b *testing.B, kind string) (store.Store, func()) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f.buckets++
	id := fmt.Sprintf("bench-%d", f.buckets)
	switch kind {
	case "dir":
		dir := filepath.Join(f.dir, "stores", id)
		st, err := dirstore.Open(dir, true)
		if err != nil {
			b.Fatal(err)
		}
		return st, func() { os.RemoveAll(dir) }
	case "s3":
		if err := f.minio.MakeBucket(ctx, id); err != nil {
			b.Fatal(err)
		}
		st, err := s3store.Open(ctx, s3store.Config{Endpoint: f.minio.URL(), Bucket: id,
			AccessKey: f.minio.AccessKey(), SecretKey: s3store.Secret(f.minio.SecretKey()), Create: true})
		if err != nil {
			b.Fatal(err)
		}
		return st, func() {}
	case "kafka":
		st, err := kafkastore.Open(ctx, kafkastore.Config{Brokers: f.kafka.ListenAddrs(), TopicPrefix: id})
		if err != nil {
			b.Fatal(err)
		}
		return st, func() { st.Close() }
	}
	b.Fatalf("unknown store kind %q", kind)
	return nil, nil
}

// checkStored fails b unless st lists exactly the segments built from the
// source's oplog: the same data, cut at the same places.
func (f *tailFixture) checkStored(b *testing.B, st store.Store) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got, err := st.Segments(ctx, testserver.ReplicaSet)
	if err != nil {
		b.Fatal(err)
	}
	if want := f.names(); !slices.Equal(got, want) {
		b.Fatalf("%s holds segments %v, want %v", st, got, want)
	}
}

var storeKinds = []string{"dir", "s3", "kafka"}

// BenchmarkTailTo tails the same FerretDB oplog (about 50,000 entries of a
// batched insert/update/delete workload, written once per process) into a
// directory, S3 (MinIO) and Kafka (kfake, Kafka's default 1 MiB message
// limit, so every segment is framed), in one run. Each iteration is a fresh
// tailer (fresh Pebble checkpoint, Start: oldest, the default cut size)
// into a fresh store: it runs until it has read the newest entry, is then
// stopped (Run cuts and commits the open segment) and must leave exactly
// the segments BenchmarkPutSegment puts, checksums and all, in the
// checkpoint and the store. Timed: from Run's start to its return. The cut
// age is an hour, so that segments are cut by size alone, the same in
// every run (with the default 10 s a source this slow adds cuts by time).
//
//	go test -run='^$' -bench='TailTo|PutSegment' -benchmem -benchtime=3x ./bench
func BenchmarkTailTo(b *testing.B) {
	f := getTailFixture(b)
	for _, kind := range storeKinds {
		b.Run(kind, func(b *testing.B) {
			var iters, entries, raw, segs int64
			for b.Loop() {
				iters++
				b.StopTimer()
				st, done := f.openStore(b, kind)
				ck, err := checkpoint.Open(filepath.Join(f.dir, "stores", fmt.Sprintf("ckpt-%d", f.buckets)))
				if err != nil {
					b.Fatal(err)
				}
				tl := tailer.New(f.client, st, ck, tailer.Config{Start: tailer.StartAt{Oldest: true}, CutAge: time.Hour}, zerolog.Nop())
				ctx, cancel := context.WithCancel(context.Background())
				errc := make(chan error, 1)
				b.StartTimer()

				t0 := time.Now()
				go func() { errc <- tl.Run(ctx) }()
				err = waitCaptured(tl, f.newest, errc)
				cancel()
				if rerr := <-errc; err == nil {
					err = rerr
				}

				b.StopTimer()
				b.Logf("iteration %d: %s", iters, time.Since(t0).Round(time.Millisecond))
				if err != nil {
					b.Fatal(err)
				}
				head, ok, err := ck.Head(testserver.ReplicaSet)
				if err != nil || !ok || head.OpEnd != f.newest {
					b.Fatalf("checkpoint head %+v (found %v, %v), want one ending at %s", head, ok, err, f.newest)
				}
				infos, err := ck.Segments(testserver.ReplicaSet)
				if err != nil {
					b.Fatal(err)
				}
				if len(infos) != len(f.segs) {
					b.Fatalf("checkpoint holds %d segments, want %d", len(infos), len(f.segs))
				}
				for i, in := range infos {
					if in != f.segs[i].info {
						b.Fatalf("checkpoint segment %d is %+v, want %+v", i, in, f.segs[i].info)
					}
				}
				f.checkStored(b, st)
				ck.Close()
				os.RemoveAll(ck.Dir())
				done()
				f.quiesce(b)
				entries, raw, segs = entries+int64(f.entries), raw+f.raw, segs+int64(len(infos))
				b.StartTimer()
			}
			reportThroughput(b, iters, entries, raw, segs)
		})
	}
}

// quiesce waits until the source has finished the query a stopped tailer
// left running: the tailer's poll after its last batch reads the whole
// oplog again, and FerretDB finishes it after the client is gone. One more
// such query, issued after it, returns after it (on the 2-vCPU machine the
// two run side by side), so the next iteration starts on an idle source.
func (f *tailFixture) quiesce(b *testing.B) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := f.src.LastTS(ctx, f.client); err != nil {
		b.Fatal(err)
	}
}

// waitCaptured polls until the tailer has read the entry at newest (or Run
// ended, or tailWaitMax passed).
func waitCaptured(tl *tailer.Tailer, newest oplog.Timestamp, errc chan error) error {
	deadline := time.Now().Add(tailWaitMax)
	for {
		if c, _ := tl.Progress(); c == newest {
			return nil
		}
		select {
		case err := <-errc:
			errc <- err
			if err == nil {
				err = errors.New("tailer stopped before reading the newest entry")
			}
			return err
		case <-time.After(2 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("tailer did not read up to %s within %s", newest, tailWaitMax)
		}
	}
}

// BenchmarkPutSegment puts the very segments BenchmarkTailTo's tailer
// writes (built once from the same oplog with segment.Writer) into a
// fresh store of each kind, one after another as the tailer does: the
// store's own cost, without reading the source or compressing.
func BenchmarkPutSegment(b *testing.B) {
	f := getTailFixture(b)
	for _, kind := range storeKinds {
		b.Run(kind, func(b *testing.B) {
			ctx := context.Background()
			var iters, entries, raw, segs int64
			for b.Loop() {
				iters++
				b.StopTimer()
				st, done := f.openStore(b, kind)
				b.StartTimer()
				for _, s := range f.segs {
					if err := st.PutSegment(ctx, testserver.ReplicaSet, s.info.Name, s.data); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				f.checkStored(b, st)
				done()
				entries, raw, segs = entries+int64(f.entries), raw+f.raw, segs+int64(len(f.segs))
				b.StartTimer()
			}
			reportThroughput(b, iters, entries, raw, segs)
			b.ReportMetric(float64(f.stored)*float64(segs)/float64(len(f.segs))/b.Elapsed().Seconds()/1e6, "stored-MB/s")
		})
	}
}

func reportThroughput(b *testing.B, iters, entries, raw, segs int64) {
	s := b.Elapsed().Seconds()
	b.ReportMetric(float64(entries)/s, "entries/s")
	b.ReportMetric(float64(raw)/s/1e6, "MB/s")
	b.ReportMetric(float64(segs)/float64(iters), "segments/op")
}
