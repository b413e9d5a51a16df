// Package workload writes a reproducible random mix of inserts, updates and
// deletes to a source and takes exact pictures of its data, for the
// end-to-end tests, the demo and the benchmarks.
package workload

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Namespaces the workload writes to: two databases, three collections.
var Namespaces = []string{"shop.orders", "shop.users", "app.events"}

// Workload writes random changes. It keeps to changes FerretDB logs exactly:
// FerretDB writes every update as a $set of the whole new document, so an
// update that removes a field ($unset, or a replacement with fewer fields)
// would leave the field in its own oplog and no replay could reproduce the
// source. Real MongoDB logs $unset faithfully.
type Workload struct {
	rng    *rand.Rand
	client *mongo.Client
	ids    map[string][]int32
	next   int32
	Writes int
}

// New returns a workload seeded for reproducibility.
func New(client *mongo.Client, seed uint64) *Workload {
	return &Workload{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), client: client, ids: map[string][]int32{}}
}

func (w *Workload) coll(ns string) *mongo.Collection {
	db, c, _ := strings.Cut(ns, ".")
	return w.client.Database(db).Collection(c)
}

func (w *Workload) doc(id int32) bson.D {
	return bson.D{
		{Key: "_id", Value: id},
		{Key: "n", Value: w.rng.Int32N(1000)},
		{Key: "name", Value: fmt.Sprintf("item-%d-%x", id, w.rng.Uint32())},
		{Key: "tags", Value: bson.A{"a", w.rng.Int32N(10)}},
		{Key: "nested", Value: bson.D{{Key: "x", Value: w.rng.Float64()}, {Key: "y", Value: "z"}}},
	}
}

// Step performs n random single-document writes, one at a time.
func (w *Workload) Step(ctx context.Context, n int) error {
	for i := 0; i < n; i++ {
		ns := Namespaces[w.rng.IntN(len(Namespaces))]
		ids := w.ids[ns]
		r := w.rng.IntN(100)
		var err error
		switch {
		case r < 50 || len(ids) < 5:
			w.next++
			_, err = w.coll(ns).InsertOne(ctx, w.doc(w.next))
			w.ids[ns] = append(ids, w.next)
		case r < 65:
			id := ids[w.rng.IntN(len(ids))]
			_, err = w.coll(ns).UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
				bson.D{{Key: "$set", Value: bson.D{{Key: "n", Value: w.rng.Int32N(1000)}, {Key: "nested.y", Value: "updated"}}}})
		case r < 75:
			id := ids[w.rng.IntN(len(ids))]
			_, err = w.coll(ns).UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
				bson.D{{Key: "$inc", Value: bson.D{{Key: "n", Value: int32(7)}}}, {Key: "$push", Value: bson.D{{Key: "tags", Value: "p"}}}})
		case r < 85:
			id := ids[w.rng.IntN(len(ids))]
			_, err = w.coll(ns).ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}}, w.doc(id))
		default:
			k := w.rng.IntN(len(ids))
			_, err = w.coll(ns).DeleteOne(ctx, bson.D{{Key: "_id", Value: ids[k]}})
			w.ids[ns] = append(ids[:k], ids[k+1:]...)
		}
		if err != nil {
			return fmt.Errorf("workload write on %s: %w", ns, err)
		}
		w.Writes++
	}
	return nil
}

// Bulk inserts n documents into ns in batches of 500, like a data load.
func (w *Workload) Bulk(ctx context.Context, ns string, n int) error {
	for done := 0; done < n; done += 500 {
		docs := make([]any, 0, 500)
		for i := 0; i < 500 && done+i < n; i++ {
			w.next++
			docs = append(docs, w.doc(w.next))
			w.ids[ns] = append(w.ids[ns], w.next)
		}
		if _, err := w.coll(ns).InsertMany(ctx, docs); err != nil {
			return fmt.Errorf("bulk insert into %s: %w", ns, err)
		}
		w.Writes += len(docs)
	}
	return nil
}

// State is every document of every workload namespace, in _id order, as
// canonical extended JSON: a byte-exact picture including field order and types.
type State map[string][]string

// Dump takes the State of the server behind client.
func Dump(ctx context.Context, client *mongo.Client) (State, error) {
	s := State{}
	for _, ns := range Namespaces {
		db, c, _ := strings.Cut(ns, ".")
		cur, err := client.Database(db).Collection(c).Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
		if err != nil {
			return nil, fmt.Errorf("dump %s: %w", ns, err)
		}
		var docs []string
		for cur.Next(ctx) {
			docs = append(docs, cur.Current.String())
		}
		if err := cur.Err(); err != nil {
			return nil, fmt.Errorf("dump %s: %w", ns, err)
		}
		s[ns] = docs
	}
	return s, nil
}

// Documents counts the documents in s.
func (s State) Documents() int {
	n := 0
	for _, docs := range s {
		n += len(docs)
	}
	return n
}

// Diff describes how got differs from want, document by document ("" if equal).
func Diff(want, got State) string {
	var out []string
	var nss []string
	for ns := range want {
		nss = append(nss, ns)
	}
	sort.Strings(nss)
	for _, ns := range nss {
		w, g := want[ns], got[ns]
		if len(w) != len(g) {
			out = append(out, fmt.Sprintf("%s: %d documents, want %d", ns, len(g), len(w)))
		}
		for i := 0; i < len(w) && i < len(g); i++ {
			if w[i] != g[i] {
				out = append(out, fmt.Sprintf("%s: document %d\n  got  %s\n  want %s", ns, i, g[i], w[i]))
				break
			}
		}
	}
	return strings.Join(out, "\n")
}
