package bench

import (
	"context"
	"fmt"
	"testing"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/load"
	"github.com/tidelog/tidelog/restore"
	"github.com/tidelog/tidelog/snapshot"
	"github.com/tidelog/tidelog/store/dirstore"
)

// BenchmarkSnapshot takes the same data (4 collections of 25,000 documents
// of about 200 bytes) with one worker and with four, in one run, then
// loads one of those snapshots into fresh targets with one and four
// workers (a restore's load phase; indexes after the data). Each reports
// documents and raw megabytes per second:
//
//	go test -run='^$' -bench=Snapshot -benchtime=1x ./bench
//
// The data is written before local.oplog.rs exists, so the oplog holds one
// entry: FerretDB finds the newest entry (read twice per snapshot) by
// reading the whole oplog, where MongoDB reads one, and a 100,000-entry
// oplog would make the benchmark measure that instead of the copy.
func BenchmarkSnapshot(b *testing.B) {
	const colls, perColl = 4, 25000
	ctx := context.Background()
	srv := testserver.StartT(b, testserver.Options{NoOplog: true})
	c := client(b, srv)
	for i := range colls {
		coll := c.Database("bench").Collection(fmt.Sprintf("c%d", i))
		for start := 0; start < perColl; start += 500 {
			docs := make([]any, 0, 500)
			for id := start; id < start+500; id++ {
				docs = append(docs, bson.D{{Key: "_id", Value: int32(id)}, {Key: "name", Value: fmt.Sprintf("item-%08d", id)},
					{Key: "n", Value: int64(id) * 7}, {Key: "tags", Value: bson.A{"alpha", "beta", int32(id % 10)}},
					{Key: "sub", Value: bson.D{{Key: "x", Value: float64(id) / 3}, {Key: "y", Value: "a fixed string of some length for padding"}}}})
			}
			if _, err := coll.InsertMany(ctx, docs); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := c.Database("local").CreateCollection(ctx, "oplog.rs", options.CreateCollection().SetCapped(true).SetSizeInBytes(256<<20)); err != nil {
		b.Fatal(err)
	}
	if _, err := c.Database("bench").Collection("marker").InsertOne(ctx, bson.D{{Key: "_id", Value: 1}}); err != nil {
		b.Fatal(err)
	}
	st, err := dirstore.Open(b.TempDir(), true)
	if err != nil {
		b.Fatal(err)
	}
	var last *snapshot.Manifest
	for _, workers := range []int{1, 4} {
		b.Run(fmt.Sprintf("take/workers=%d", workers), func(b *testing.B) {
			var docs, raw int64
			for b.Loop() {
				m, err := snapshot.Take(ctx, c, st, snapshot.Options{Workers: workers}, zerolog.Nop())
				if err != nil {
					b.Fatal(err)
				}
				if m.Docs != colls*perColl+1 {
					b.Fatalf("snapshot of %d documents, want %d", m.Docs, colls*perColl+1)
				}
				docs, raw, last = docs+m.Docs, raw+m.Bytes, m
			}
			b.ReportMetric(float64(docs)/b.Elapsed().Seconds(), "docs/s")
			b.ReportMetric(float64(raw)/b.Elapsed().Seconds()/1e6, "MB/s")
		})
	}
	for _, workers := range []int{1, 4} {
		b.Run(fmt.Sprintf("load/workers=%d", workers), func(b *testing.B) {
			var docs, raw int64
			for b.Loop() {
				b.StopTimer()
				target := testserver.StartT(b, testserver.Options{NoOplog: true})
				tc := client(b, target)
				b.StartTimer()
				base, err := restore.Collections(ctx, st, last)
				if err != nil {
					b.Fatal(err)
				}
				stats, err := load.Load(ctx, tc, base, load.Options{Workers: workers}, zerolog.Nop())
				if err != nil {
					b.Fatal(err)
				}
				docs, raw = docs+stats.Docs, raw+stats.Bytes
				b.StopTimer()
				checkCount(b, tc, colls*perColl)
				target.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(docs)/b.Elapsed().Seconds(), "docs/s")
			b.ReportMetric(float64(raw)/b.Elapsed().Seconds()/1e6, "MB/s")
		})
	}
}

func checkCount(b *testing.B, c *mongo.Client, want int) {
	n := 0
	for i := range 4 {
		k, err := c.Database("bench").Collection(fmt.Sprintf("c%d", i)).CountDocuments(context.Background(), bson.D{})
		if err != nil {
			b.Fatal(err)
		}
		n += int(k)
	}
	if n != want {
		b.Fatalf("loaded %d documents, want %d", n, want)
	}
}
