package replay

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tidelog/tidelog/internal/testserver"
)

func entry(t *testing.T, i uint32, op, ns string, o bson.D, o2 bson.D) bson.Raw {
	t.Helper()
	d := bson.D{{Key: "ts", Value: bson.Timestamp{T: 1700000000, I: i}}, {Key: "op", Value: op}, {Key: "ns", Value: ns}, {Key: "o", Value: o}}
	if o2 != nil {
		d = append(d, bson.E{Key: "o2", Value: o2})
	}
	raw, err := bson.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func id(v int32) bson.D { return bson.D{{Key: "_id", Value: v}} }

// history is a small oplog with every shape the applier handles and
// interleavings that break if runs are flushed out of order.
func history(t *testing.T) []bson.Raw {
	return []bson.Raw{
		entry(t, 1, "i", "d.a", bson.D{{Key: "_id", Value: int32(1)}, {Key: "v", Value: "one"}}, nil),
		entry(t, 2, "i", "d.a", bson.D{{Key: "_id", Value: int32(2)}, {Key: "v", Value: "two"}}, nil),
		entry(t, 3, "n", "", bson.D{{Key: "msg", Value: "periodic noop"}}, nil),
		entry(t, 4, "i", "d.b", bson.D{{Key: "_id", Value: int32(1)}, {Key: "w", Value: int32(0)}}, nil),
		entry(t, 5, "u", "d.a", bson.D{{Key: "$v", Value: int32(1)}, {Key: "$set", Value: bson.D{{Key: "v", Value: "uno"}}}}, id(1)),
		entry(t, 6, "d", "d.a", id(2), nil),
		entry(t, 7, "i", "d.a", bson.D{{Key: "_id", Value: int32(2)}, {Key: "v", Value: "dos"}}, nil), // re-insert after delete
		entry(t, 8, "u", "d.b", bson.D{{Key: "_id", Value: int32(1)}, {Key: "w", Value: int32(9)}, {Key: "x", Value: true}}, id(1)),
		entry(t, 9, "d", "d.b", id(1), nil),
		entry(t, 10, "d", "d.a", id(1), nil),
		entry(t, 11, "i", "d.a", bson.D{{Key: "_id", Value: int32(3)}, {Key: "v", Value: "tres"}}, nil),
	}
}

func contents(t *testing.T, c *mongo.Client, coll string) []string {
	t.Helper()
	cur, err := c.Database("d").Collection(coll).Find(context.Background(), bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for cur.Next(context.Background()) {
		out = append(out, cur.Current.String())
	}
	return out
}

func applyAll(t *testing.T, a *Applier, entries []bson.Raw) {
	t.Helper()
	ctx := context.Background()
	for _, e := range entries {
		if err := a.Apply(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestApplierAppliesInOrderAndIsIdempotent(t *testing.T) {
	srv := testserver.StartT(t, testserver.Options{NoOplog: true})
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(context.Background())

	a := NewApplier(c, Options{}, zerolog.Nop())
	applyAll(t, a, history(t))
	want := []string{`{"_id": {"$numberInt":"2"},"v": "dos"}`, `{"_id": {"$numberInt":"3"},"v": "tres"}`}
	if got := contents(t, c, "a"); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("d.a = %v, want %v", got, want)
	}
	if got := contents(t, c, "b"); len(got) != 0 {
		t.Fatalf("d.b = %v, want empty", got)
	}
	s := a.Stats()
	if s.Entries != 11 || s.Inserts != 5 || s.Updates != 2 || s.Deletes != 3 || s.NoOps != 1 || s.Applied.I != 11 {
		t.Errorf("stats %+v", s)
	}

	// Replaying an overlapping range again (as after a crash, or a snapshot
	// taken during capture) must leave the same data.
	again := NewApplier(c, Options{}, zerolog.Nop())
	applyAll(t, again, history(t)[3:])
	again = NewApplier(c, Options{}, zerolog.Nop()) // each replay reads its range in order
	applyAll(t, again, history(t))
	if got := contents(t, c, "a"); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("after replaying twice d.a = %v, want %v", got, want)
	}
	if again.Stats().Upserted == 0 {
		t.Error("the second replay should have met existing _ids and replaced them")
	}
}

// Entries out of order (a damaged source, files in the wrong order) stop
// the replay in its checking pass: applied, a delete then an older insert
// would leave a document the source no longer has.
func TestApplierRefusesEntriesOutOfOrder(t *testing.T) {
	a := NewApplier(nil, Options{}, zerolog.Nop())
	ctx := context.Background()
	if err := a.Check(ctx, entry(t, 2, "d", "d.a", bson.D{{Key: "_id", Value: 1}}, nil), nil); err != nil {
		t.Fatal(err)
	}
	err := a.Check(ctx, entry(t, 1, "i", "d.a", bson.D{{Key: "_id", Value: 1}}, nil), nil)
	if err == nil || !strings.Contains(err.Error(), "out of order") {
		t.Fatalf("Check of an older entry = %v, want an out-of-order error", err)
	}
}

func TestApplierRefusesWhatItCannotApply(t *testing.T) {
	ctx := context.Background()
	cases := map[string]bson.Raw{
		"command": entry(t, 1, "c", "d.$cmd", bson.D{{Key: "frobnicate", Value: "a"}}, nil),
		"$v:3":    entry(t, 2, "u", "d.a", bson.D{{Key: "$v", Value: int32(3)}, {Key: "diff", Value: bson.D{}}}, id(1)),
		"$inc":    entry(t, 4, "u", "d.a", bson.D{{Key: "$v", Value: int32(1)}, {Key: "$inc", Value: bson.D{{Key: "x", Value: 1}}}}, id(1)),
		"op x":    entry(t, 3, "x", "d.a", bson.D{}, nil),
	}
	for name, e := range cases {
		a := NewApplier(nil, Options{}, zerolog.Nop())
		var ue *UnsupportedError
		if err := a.Check(ctx, e, nil); !errors.As(err, &ue) || !ue.Before {
			t.Errorf("%s: Check gave %v, want an UnsupportedError found before writing", name, err)
		}
	}
}

// An update whose _id equals a target document's only by numeric value
// (1.0 stored, int32 1 in the oplog) updates it, as the server does; a
// plain miss leaves the target as it was.
func TestUpdateMissesLeaveTargetAlone(t *testing.T) {
	srv := testserver.StartT(t, testserver.Options{NoOplog: true})
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(context.Background())
	ctx := context.Background()
	if _, err := c.Database("d").Collection("m").InsertOne(ctx, bson.D{{Key: "_id", Value: 1.0}, {Key: "v", Value: "kept"}}); err != nil {
		t.Fatal(err)
	}
	set := bson.D{{Key: "$v", Value: int32(1)}, {Key: "$set", Value: bson.D{{Key: "v", Value: "changed"}}}}

	a := NewApplier(c, Options{}, zerolog.Nop())
	if err := a.Apply(ctx, entry(t, 1, "u", "d.m", set, id(99))); err != nil {
		t.Fatal(err)
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if a.Stats().UpdateMisses != 1 {
		t.Errorf("misses = %d, want 1", a.Stats().UpdateMisses)
	}

	b := NewApplier(c, Options{}, zerolog.Nop())
	if err := b.Apply(ctx, entry(t, 2, "u", "d.m", set, id(1))); err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var docs []bson.M
	cur, err := c.Database("d").Collection("m").Find(ctx, bson.D{})
	if err == nil {
		err = cur.All(ctx, &docs)
	}
	if err != nil || len(docs) != 1 || docs[0]["v"] != "changed" || docs[0]["_id"] != 1.0 {
		t.Fatalf("documents after the update of _id 1 over a stored 1.0: %v, %v; want the one document, changed, its _id still 1.0", docs, err)
	}
}
