package replay

import (
	"bytes"
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/tidelog/tidelog/oplog"
)

// txnPart is an applyOps entry at i of session 7's transaction 1, inserting
// docs into ns; prev is the ts.I of the previous entry of the chain (0: the
// first); count > 0 marks the final entry.
func txnPart(t *testing.T, i, prev uint32, count int, ns string, ids ...int32) bson.Raw {
	t.Helper()
	var ops bson.A
	for _, id := range ids {
		ops = append(ops, bson.D{{Key: "op", Value: "i"}, {Key: "ns", Value: ns},
			{Key: "o", Value: bson.D{{Key: "_id", Value: id}, {Key: "in", Value: "txn"}}}})
	}
	o := bson.D{{Key: "applyOps", Value: ops}}
	if count > 0 {
		o = append(o, bson.E{Key: "count", Value: int64(count)})
	} else {
		o = append(o, bson.E{Key: "partialTxn", Value: true})
	}
	prevTS := bson.Timestamp{}
	if prev > 0 {
		prevTS = bson.Timestamp{T: 1700000000, I: prev}
	}
	d := bson.D{
		{Key: "lsid", Value: bson.D{{Key: "id", Value: bson.Binary{Subtype: 4, Data: bytes.Repeat([]byte{7}, 16)}}}},
		{Key: "txnNumber", Value: int64(1)},
		{Key: "op", Value: "c"}, {Key: "ns", Value: "admin.$cmd"}, {Key: "o", Value: o},
		{Key: "ts", Value: bson.Timestamp{T: 1700000000, I: i}},
		{Key: "prevOpTime", Value: bson.D{{Key: "ts", Value: prevTS}, {Key: "t", Value: int64(1)}}},
	}
	raw, err := bson.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// resumeHistory: a transaction open across entries 3..8 and a deferred
// index build at 5, both pending when a replay stops after entry 6.
func resumeHistory(t *testing.T) []bson.Raw {
	doc := func(id int32, v string) bson.D { return bson.D{{Key: "_id", Value: id}, {Key: "v", Value: v}} }
	set := func(v string) bson.D {
		return bson.D{{Key: "$v", Value: int32(1)}, {Key: "$set", Value: bson.D{{Key: "v", Value: v}}}}
	}
	return []bson.Raw{
		entry(t, 1, "i", "d.r", doc(1, "a"), nil),
		entry(t, 2, "i", "d.r", doc(2, "b"), nil),
		txnPart(t, 3, 0, 0, "d.r", 100, 101),
		entry(t, 4, "u", "d.r", set("a2"), id(1)),
		entry(t, 5, "c", "d.$cmd", bson.D{{Key: "createIndexes", Value: "r"}, {Key: "v", Value: int32(2)},
			{Key: "key", Value: bson.D{{Key: "v", Value: int32(1)}}}, {Key: "name", Value: "v_1"}}, nil),
		entry(t, 6, "d", "d.r", id(2), nil),
		// the replay stops here
		txnPart(t, 7, 3, 0, "d.r", 102),
		txnPart(t, 8, 7, 4, "d.r", 103),
		entry(t, 9, "u", "d.r", set("a3"), id(1)),
		entry(t, 10, "i", "d.r", doc(3, "c"), nil),
	}
}

func dbState(t *testing.T, c *mongo.Client, db string) (docs, indexes []string) {
	t.Helper()
	ctx := context.Background()
	docs = contentsOf(t, c, db, "r")
	specs, err := c.Database(db).Collection("r").Indexes().ListSpecifications(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range specs {
		indexes = append(indexes, s.Name)
	}
	return docs, indexes
}

func contentsOf(t *testing.T, c *mongo.Client, db, coll string) []string {
	t.Helper()
	ctx := context.Background()
	cur, err := c.Database(db).Collection(coll).Find(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for cur.Next(ctx) {
		out = append(out, cur.Current.String())
	}
	sort.Strings(out)
	return out
}

// A replay that stops while a transaction is open and an index build is
// deferred reports a resume point before both; running again with After
// set to it gives exactly what one uninterrupted replay gives. Resuming
// from the last entry taken instead would lose the transaction's first
// operations, and says so rather than applying the rest.
func TestResumeAfterStop(t *testing.T) {
	ctx := context.Background()
	_, c := ferret(t)
	history := resumeHistory(t)
	run := func(opts Options, entries []bson.Raw, finish bool) Stats {
		t.Helper()
		a := NewApplier(c, opts, zerolog.Nop())
		for _, e := range entries {
			if err := a.Apply(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		if err := a.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if finish {
			if err := a.Finish(ctx); err != nil {
				t.Fatal(err)
			}
		}
		return a.Stats()
	}

	whole := run(intoDB(t, "whole"), history, true)
	if want := (oplog.Timestamp{T: 1700000000, I: 10}); whole.Applied != want {
		t.Errorf("uninterrupted replay: applied %s, want %s", whole.Applied, want)
	}

	stopped := run(intoDB(t, "resumed"), history[:6], false)
	if want := (oplog.Timestamp{T: 1700000000, I: 2}); stopped.Applied != want {
		t.Fatalf("stopped replay: resume point %s, want %s (before the open transaction)", stopped.Applied, want)
	}
	opts := intoDB(t, "resumed")
	opts.After = stopped.Applied
	resumed := run(opts, history, true)
	if resumed.Resumed != 2 || resumed.TxnsCommitted != 1 {
		t.Errorf("resumed replay: %d entries skipped as applied, %d transactions; want 2 and 1", resumed.Resumed, resumed.TxnsCommitted)
	}
	wantDocs, wantIdx := dbState(t, c, "whole")
	gotDocs, gotIdx := dbState(t, c, "resumed")
	if strings.Join(gotDocs, "\n") != strings.Join(wantDocs, "\n") || strings.Join(gotIdx, ",") != strings.Join(wantIdx, ",") {
		t.Errorf("resumed replay differs from an uninterrupted one:\n got  %v %v\n want %v %v", gotDocs, gotIdx, wantDocs, wantIdx)
	}
	if len(wantDocs) != 6 || len(wantIdx) != 2 {
		t.Errorf("the uninterrupted replay left %d documents and indexes %v; want 6 and [_id_ v_1]", len(wantDocs), wantIdx)
	}

	// Resuming from the last entry taken, past the open transaction's start.
	opts = intoDB(t, "naive")
	opts.After = oplog.Timestamp{T: 1700000000, I: 6}
	a := NewApplier(c, opts, zerolog.Nop())
	var applyErr error
	for _, e := range history {
		if applyErr = a.Apply(ctx, e); applyErr != nil {
			break
		}
	}
	if applyErr == nil {
		applyErr = a.Finish(ctx)
	}
	if applyErr == nil {
		t.Error("resuming past an open transaction's start applied the rest of it without an error")
	} else {
		if !strings.Contains(applyErr.Error(), "starts inside this transaction") {
			t.Errorf("the error does not say what happened: %v", applyErr)
		}
	}
}
