package snapshot

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/replay"
)

// The namespaces and sizes of the concurrent test; the last hotDocs _ids of
// each are the only existing documents the writer touches.
var (
	liveSizes = map[string]int{"shop.orders": 1500, "shop.users": 300, "app.events": 1000}
	liveNSs   = []string{"app.events", "shop.orders", "shop.users"}
)

const hotDocs = 100

// writeWhile keeps inserting, updating and deleting until stop is closed
// or it made maxWrites writes, and reports its error on the returned channel.
func writeWhile(ctx context.Context, c *mongo.Client, stop <-chan struct{}, writes *atomic.Int64) <-chan error {
	const maxWrites = 20000
	done := make(chan error, 1)
	go func() {
		rng := rand.New(rand.NewPCG(7, 11))
		next := int32(1_000_000)
		for range maxWrites {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			ns := liveNSs[rng.IntN(len(liveNSs))]
			id := int32(liveSizes[ns] - 1 - rng.IntN(hotDocs))
			var err error
			switch rng.IntN(5) {
			case 0:
				next++
				_, err = coll(c, ns).InsertOne(ctx, testDoc(next, int(next)))
			case 1:
				_, err = coll(c, ns).UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
					bson.D{{Key: "$set", Value: bson.D{{Key: "n", Value: rng.Int32()}, {Key: "nested.ok", Value: "changed"}}}})
			case 2:
				_, err = coll(c, ns).UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
					bson.D{{Key: "$inc", Value: bson.D{{Key: "big", Value: int64(3)}}}})
			case 3:
				_, err = coll(c, ns).ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}}, testDoc(id, rng.IntN(1000)))
			case 4:
				_, err = coll(c, ns).DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
			}
			if err != nil {
				done <- fmt.Errorf("write to %s: %w", ns, err)
				return
			}
			writes.Add(1)
		}
		done <- nil
	}()
	return done
}

// A snapshot taken while a writer keeps changing the data holds every
// document the writer never touched byte for byte, records positions that
// bracket the copy, and - the consistency rule - replaying the oplog from
// Start over it gives exactly the source's data.
func TestTakeWhileWriting(t *testing.T) {
	ctx := testCtx(t)
	e := newEnv(t)
	for ns, n := range liveSizes {
		seq(t, ctx, e.client, ns, 0, n)
	}
	stable := map[string]map[string]bson.Raw{}
	for ns, n := range liveSizes {
		all := sourceDocs(t, ctx, e.client, ns)
		stable[ns] = map[string]bson.Raw{}
		for i := range n - hotDocs {
			k := idKey(bson.Raw(mustMarshal(t, bson.D{{Key: "_id", Value: int32(i)}})))
			stable[ns][k] = all[k]
		}
	}

	var writes atomic.Int64
	stop := make(chan struct{})
	done := writeWhile(ctx, e.client, stop, &writes)
	for writes.Load() < 10 {
		if err := waitOrDone(done); err != nil {
			t.Fatal(err)
		}
	}
	before := e.lastTS(t, ctx)
	// Small splits so that the big collections are also split while written.
	m, err := Take(ctx, e.client, e.st, Options{Workers: 4, SplitDocs: 500}, testLog(t))
	during := writes.Load()
	close(stop)
	if werr := <-done; werr != nil {
		t.Fatal(werr)
	}
	if err != nil {
		t.Fatal(err)
	}
	after := e.lastTS(t, ctx)

	if m.Start.Before(before) || m.End.Before(m.Start) || after.Before(m.End) {
		t.Fatalf("positions: before Take %s, Start %s, End %s, after %s: want before <= Start <= End <= after", before, m.Start, m.End, after)
	}
	if m.Stream != testserver.ReplicaSet || m.ReplicaSet != testserver.ReplicaSet {
		t.Fatalf("stream %q, replica set %q: want both %q", m.Stream, m.ReplicaSet, testserver.ReplicaSet)
	}
	inCopy, err := coll(e.client, "local.oplog.rs").CountDocuments(ctx, bson.D{{Key: "ts", Value: bson.D{
		{Key: "$gt", Value: m.Start.BSON()}, {Key: "$lte", Value: m.End.BSON()}}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d writes before Take returned, %d oplog entries in (Start, End]; %d files, %d docs", during, inCopy, m.Files, m.Docs)
	if inCopy == 0 {
		t.Fatal("no write happened during the copy: the test did not test a live snapshot")
	}
	if got := collNames(m); !reflect.DeepEqual(got, liveNSs) {
		t.Fatalf("snapshot collections %v, want %v", got, liveNSs)
	}
	var total int64
	for _, ns := range liveNSs {
		got := snapDocs(t, ctx, e, m, ns)
		total += int64(len(got))
		for k, want := range stable[ns] {
			if g, ok := got[k]; !ok {
				t.Fatalf("%s: untouched document %s missing from the snapshot", ns, want.Lookup("_id"))
			} else if !slices.Equal(g, want) {
				t.Fatalf("%s: untouched document differs\n got  %s\n want %s", ns, g, want)
			}
		}
	}
	if total != m.Docs {
		t.Fatalf("collections hold %d documents, the manifest totals %d", total, m.Docs)
	}
	if c, _ := m.Collection("shop.orders"); len(c.Files) < 3 {
		t.Fatalf("shop.orders (1500 documents, SplitDocs 500) in %d files, want at least 3", len(c.Files))
	}
	if err := Verify(ctx, e.st, m); err != nil {
		t.Fatal(err)
	}

	// The consistency rule: the snapshot plus the oplog from Start is the source.
	target := testserver.StartT(t, testserver.Options{NoOplog: true})
	tc, err := target.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Disconnect(ctx)
	loadSnapshot(t, ctx, e.st, m, tc)
	src := func(fn func(bson.Raw) error) error {
		cur, err := coll(e.client, "local.oplog.rs").Find(ctx,
			bson.D{{Key: "ts", Value: bson.D{{Key: "$gte", Value: m.Start.BSON()}}}},
			options.Find().SetSort(bson.D{{Key: "ts", Value: 1}}))
		if err != nil {
			return err
		}
		defer cur.Close(ctx)
		for cur.Next(ctx) {
			if err := fn(cur.Current); err != nil {
				return err
			}
		}
		return cur.Err()
	}
	if _, _, err := replay.Replay(ctx, src, tc, replay.Options{}, replay.Keep, zerolog.Nop()); err != nil {
		t.Fatalf("replay from Start over the snapshot: %v", err)
	}
	for _, ns := range liveNSs {
		want, got := sortedDump(t, ctx, e.client, ns), sortedDump(t, ctx, tc, ns)
		if !slices.Equal(want, got) {
			t.Fatalf("%s after replaying from Start over the snapshot: %d documents, source has %d, or they differ", ns, len(got), len(want))
		}
	}
}

// waitOrDone returns the writer's result if it ended, else nil after a moment.
func waitOrDone(done <-chan error) error {
	select {
	case err := <-done:
		if err == nil {
			err = errors.New("the writer stopped before the snapshot began")
		}
		return err
	case <-time.After(5 * time.Millisecond):
		return nil
	}
}

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := bson.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func collNames(m *Manifest) []string {
	var out []string
	for _, c := range m.Collections {
		out = append(out, c.NS)
	}
	return out
}

// The start position is the newest oplog entry when no transaction is open;
// an empty oplog has no position and Take refuses rather than guess one.
func TestTakeEmptyOplog(t *testing.T) {
	ctx := testCtx(t)
	e := newEnv(t)
	_, err := Take(ctx, e.client, e.st, Options{}, testLog(t))
	if err == nil {
		t.Fatal("Take on a server whose oplog is empty succeeded")
	}
	ids, lerr := e.st.Snapshots(ctx, testserver.ReplicaSet)
	if lerr != nil || len(ids) != 0 {
		t.Fatalf("after the refused Take the store holds snapshots %v (%v), want none", ids, lerr)
	}
}
