package replay

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tidelog/tidelog/internal/testserver"
)

// updateWorkload is the journal's worst case: a base of docs documents in
// each of two collections (loaded before the replay, as a restore loads a
// snapshot), then n entries — 80 % $v:1 updates of base documents, 10 %
// deletes, 10 % inserts — so nearly every document a batch writes existed
// before it and is journaled.
func updateWorkload(docs, n int) (base map[string][]any, entries []bson.Raw) {
	rng := rand.New(rand.NewPCG(7, 1))
	nss := []string{"bench.a", "bench.b"}
	base = map[string][]any{}
	doc := func(id int32) bson.D {
		return bson.D{{Key: "_id", Value: id}, {Key: "n", Value: rng.Int32N(1000)}, {Key: "name", Value: fmt.Sprintf("item-%d", id)},
			{Key: "sub", Value: bson.D{{Key: "x", Value: rng.Float64()}, {Key: "y", Value: "z"}}}}
	}
	for _, ns := range nss {
		for id := range int32(docs) {
			base[ns] = append(base[ns], doc(id))
		}
	}
	next := int32(docs)
	for i := range n {
		ns := nss[rng.IntN(len(nss))]
		e := bson.D{{Key: "ts", Value: bson.Timestamp{T: 1800000000, I: uint32(i + 1)}}, {Key: "ns", Value: ns}}
		switch r := rng.IntN(100); {
		case r < 80:
			e = append(e, bson.E{Key: "op", Value: "u"},
				bson.E{Key: "o", Value: bson.D{{Key: "$v", Value: int32(1)}, {Key: "$set", Value: bson.D{{Key: "n", Value: rng.Int32N(1000)}}}}},
				bson.E{Key: "o2", Value: bson.D{{Key: "_id", Value: rng.Int32N(int32(docs))}}})
		case r < 90:
			e = append(e, bson.E{Key: "op", Value: "d"}, bson.E{Key: "o", Value: bson.D{{Key: "_id", Value: rng.Int32N(int32(docs))}}})
		default:
			next++
			e = append(e, bson.E{Key: "op", Value: "i"}, bson.E{Key: "o", Value: doc(next)})
		}
		raw, err := bson.Marshal(e)
		if err != nil {
			panic(err) // built from literals
		}
		entries = append(entries, raw)
	}
	return base, entries
}

// BenchmarkFerretJournal replays updateWorkload (JOURNAL_DOCS base
// documents per collection, default 20000; JOURNAL_ENTRIES entries,
// default 50000: one batch) onto FerretDB, one fresh server per run, with
// the writer as it was (delete-insert: no journal) and as it is
// (journaled), side by side, JOURNAL_ROUNDS times (default 1).
// REPLAY_BACKEND=postgresql backs FerretDB with PostgreSQL:
//
//	JOURNAL_ROUNDS=3 go test -run='^$' -bench=FerretJournal -benchtime=1x ./replay
func BenchmarkFerretJournal(b *testing.B) {
	docs, n := 20000, 50000
	if v, err := strconv.Atoi(os.Getenv("JOURNAL_DOCS")); err == nil && v > 0 {
		docs = v
	}
	if v, err := strconv.Atoi(os.Getenv("JOURNAL_ENTRIES")); err == nil && v > 0 {
		n = v
	}
	base, entries := updateWorkload(docs, n)
	ctx := context.Background()
	run := func(b *testing.B, noJournal bool) {
		var elapsed, journalSpent time.Duration
		for range b.N {
			b.StopTimer()
			srv := testserver.StartT(b, testserver.Options{NoOplog: true, Postgres: os.Getenv("REPLAY_BACKEND") == "postgresql"})
			var journal journalTime
			c, err := mongo.Connect(options.Client().ApplyURI(srv.URI).SetTimeout(time.Minute).SetMonitor(journal.monitor()))
			if err != nil {
				b.Fatal(err)
			}
			for ns, d := range base {
				db, coll := SplitNS(ns)
				if _, err := c.Database(db).Collection(coll).InsertMany(ctx, d); err != nil {
					b.Fatal(err)
				}
			}
			a := NewApplier(c, Options{NoJournal: noJournal}, zerolog.Nop())
			b.StartTimer()
			start := time.Now()
			for _, e := range entries {
				if err := a.Apply(ctx, e); err != nil {
					b.Fatal(err)
				}
			}
			if err := a.Finish(ctx); err != nil {
				b.Fatal(err)
			}
			elapsed += time.Since(start)
			b.StopTimer()
			journalSpent += journal.total()
			c.Disconnect(ctx)
			srv.Close()
			b.StartTimer()
		}
		b.ReportMetric(float64(len(entries)*b.N)/elapsed.Seconds(), "entries/s")
		b.ReportMetric(journalSpent.Seconds()/float64(b.N), "journal-s/op")
	}
	// Rounds alternate the two, each going first in every other round, so
	// that a machine busy with other work slows both alike.
	rounds := 1
	if v, err := strconv.Atoi(os.Getenv("JOURNAL_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	for r := range rounds {
		b.Run(fmt.Sprintf("round%d", r+1), func(b *testing.B) {
			for i := range 2 {
				if (i+r)%2 == 0 {
					b.Run("delete-insert", func(b *testing.B) { run(b, true) })
				} else {
					b.Run("journaled", func(b *testing.B) { run(b, false) })
				}
			}
		})
	}
}

// journalTime sums the time the target took to answer the journal's
// commands (its inserts, reads and drops): the journal's own cost, apart
// from the noise of a busy machine that end-to-end times carry.
type journalTime struct {
	mu      sync.Mutex
	pending map[int64]bool
	spent   time.Duration
}

func (j *journalTime) monitor() *event.CommandMonitor {
	j.pending = map[int64]bool{}
	return &event.CommandMonitor{
		Started: func(_ context.Context, e *event.CommandStartedEvent) {
			if e.DatabaseName != journalDB {
				return
			}
			if coll, _ := e.Command.Lookup(e.CommandName).StringValueOK(); coll == journalCollection {
				j.mu.Lock()
				j.pending[e.RequestID] = true
				j.mu.Unlock()
			}
		},
		Succeeded: func(_ context.Context, e *event.CommandSucceededEvent) {
			j.mu.Lock()
			defer j.mu.Unlock()
			if j.pending[e.RequestID] {
				j.spent += e.Duration
			}
		},
		Failed: func(_ context.Context, e *event.CommandFailedEvent) {
			j.mu.Lock()
			defer j.mu.Unlock()
			if j.pending[e.RequestID] {
				j.spent += e.Duration
			}
		},
	}
}

func (j *journalTime) total() time.Duration {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.spent
}
