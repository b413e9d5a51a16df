package snapshot

import (
	"context"
	"fmt"
	"testing"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/store/dirstore"
)

// BenchmarkTake snapshots the same data (4 collections of 25,000 documents
// of about 200 bytes, loaded in batches of 500) with one worker and with
// four, each iteration into a fresh store, and reports documents and raw
// megabytes per second.
//
// The data is loaded before local.oplog.rs exists, so the oplog holds one
// entry: FerretDB finds the newest entry (read twice per snapshot) by
// reading the whole oplog, where MongoDB reads one entry, and a 100,000
// entry oplog would make the benchmark measure that instead of the copy.
func BenchmarkTake(b *testing.B) {
	const colls, perColl = 4, 25000
	ctx := testCtx(b)
	srv := testserver.StartT(b, testserver.Options{NoOplog: true})
	client, err := srv.Client()
	if err != nil {
		b.Fatal(err)
	}
	defer client.Disconnect(context.Background())
	for c := range colls {
		seq(b, ctx, client, fmt.Sprintf("bench.c%d", c), 0, perColl)
	}
	if err := client.Database("local").CreateCollection(ctx, "oplog.rs",
		options.CreateCollection().SetCapped(true).SetSizeInBytes(256<<20)); err != nil {
		b.Fatal(err)
	}
	if _, err := client.Database("bench").Collection("marker").InsertOne(ctx, bson.D{{Key: "_id", Value: 1}}); err != nil {
		b.Fatal(err)
	}
	for _, workers := range []int{1, 4} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			var docs, raw int64
			for b.Loop() {
				b.StopTimer()
				st, err := dirstore.Open(b.TempDir(), true)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				m, err := Take(ctx, client, st, Options{Workers: workers}, zerolog.Nop())
				if err != nil {
					b.Fatal(err)
				}
				if m.Docs != colls*perColl+1 {
					b.Fatalf("snapshot of %d documents, want %d", m.Docs, colls*perColl+1)
				}
				docs += m.Docs
				raw += m.Bytes
			}
			secs := b.Elapsed().Seconds()
			b.ReportMetric(float64(docs)/secs, "docs/s")
			b.ReportMetric(float64(raw)/secs/1e6, "MB/s")
		})
	}
}
