package bench

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/replay"
)

func applyEngine(ctx context.Context, c *mongo.Client, entries []bson.Raw) (replay.Stats, error) {
	a := replay.NewApplier(c, replay.Options{}, zerolog.Nop())
	for _, e := range entries {
		if err := a.Apply(ctx, e); err != nil {
			return a.Stats(), err
		}
	}
	err := a.Finish(ctx)
	return a.Stats(), err
}

func dumpBench(t testing.TB, c *mongo.Client) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	ctx := context.Background()
	for _, coll := range []string{"orders", "users", "events", "items"} {
		cur, err := c.Database("bench").Collection(coll).Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
		if err != nil {
			t.Fatal(err)
		}
		for cur.Next(ctx) {
			out[coll] = append(out[coll], cur.Current.String())
		}
	}
	return out
}

func client(t testing.TB, s *testserver.Server) *mongo.Client {
	c, err := s.Client()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Disconnect(context.Background()) })
	return c
}

// The engine must leave exactly what the one-write-per-entry baseline
// leaves, document for document, for the workload the benchmark times.
func TestEngineMatchesSerialBaseline(t *testing.T) {
	entries := genOplog(3000, 3, true)
	ctx := context.Background()
	a, b := testserver.StartT(t, testserver.Options{NoOplog: true}), testserver.StartT(t, testserver.Options{NoOplog: true})
	ca, cb := client(t, a), client(t, b)
	stats, err := applyEngine(ctx, ca, entries)
	if err != nil {
		t.Fatal(err)
	}
	if err := applySerial(ctx, cb, entries); err != nil {
		t.Fatal(err)
	}
	got, want := dumpBench(t, ca), dumpBench(t, cb)
	for coll, docs := range want {
		if len(got[coll]) != len(docs) {
			t.Errorf("%s: engine left %d documents, baseline %d", coll, len(got[coll]), len(docs))
			continue
		}
		for i := range docs {
			if got[coll][i] != docs[i] {
				t.Errorf("%s document %d:\n engine   %s\n baseline %s", coll, i, got[coll][i], docs[i])
				break
			}
		}
	}
	if stats.UpdateMisses != 0 {
		t.Errorf("%d update misses on a self-contained workload", stats.UpdateMisses)
	}
}

// BenchmarkReplay replays the same mixed workload (REPLAY_ENTRIES, default
// 100000) onto FerretDB two ways in one run: the parallel batched engine and
// the serial one-write-per-entry baseline. Each sub-benchmark reports
// entries/s; compare them side by side. REPLAY_BACKEND=postgresql backs
// FerretDB with PostgreSQL, whose updates by _id use the index (the SQLite
// backend scans the collection on every one, which punishes the baseline):
//
//	REPLAY_BACKEND=postgresql go test -run='^$' -bench=Replay -benchtime=1x -timeout=2h ./bench
func BenchmarkReplay(b *testing.B) {
	n := 100000
	if v, err := strconv.Atoi(os.Getenv("REPLAY_ENTRIES")); err == nil && v > 0 {
		n = v
	}
	entries := genOplog(n, 1, true)
	ctx := context.Background()
	run := func(b *testing.B, apply func(context.Context, *mongo.Client, []bson.Raw) error) {
		var elapsed time.Duration
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			srv := testserver.StartT(b, testserver.Options{NoOplog: true, Postgres: os.Getenv("REPLAY_BACKEND") == "postgresql"})
			c := client(b, srv)
			b.StartTimer()
			start := time.Now()
			if err := apply(ctx, c, entries); err != nil {
				b.Fatal(err)
			}
			elapsed += time.Since(start)
			b.StopTimer()
			srv.Close()
			b.StartTimer()
		}
		b.ReportMetric(float64(len(entries)*b.N)/elapsed.Seconds(), "entries/s")
	}
	b.Run("engine", func(b *testing.B) {
		run(b, func(ctx context.Context, c *mongo.Client, e []bson.Raw) error {
			_, err := applyEngine(ctx, c, e)
			return err
		})
	})
	b.Run("serial", func(b *testing.B) { run(b, applySerial) })
}
