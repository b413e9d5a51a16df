package replay

import (
	"context"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/tidelog/tidelog/oplog"
)

// writtenHistory: a transaction open from 3 to 9 holds the resume point
// at 2 while d.a is renamed to d.b (4) and d.a is created again (5); a
// short transaction (6, 7) and an index build (8) fall between too. A
// replay stops after 8.
func writtenHistory(t *testing.T) []bson.Raw {
	doc := func(i int32, v string) bson.D { return bson.D{{Key: "_id", Value: i}, {Key: "v", Value: v}} }
	short := func(i, prev uint32, count int, ids ...int32) bson.Raw {
		// session 7's transaction 2: another session number than txnPart's.
		e := txnPart(t, i, prev, count, "d.t", ids...)
		var d bson.D
		if err := bson.Unmarshal(e, &d); err != nil {
			t.Fatal(err)
		}
		for k := range d {
			if d[k].Key == "txnNumber" {
				d[k].Value = int64(2)
			}
		}
		raw, err := bson.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	return []bson.Raw{
		entry(t, 1, "i", "d.a", doc(1, "a1"), nil),
		entry(t, 2, "i", "d.a", doc(2, "a2"), nil),
		txnPart(t, 3, 0, 0, "d.t", 100),
		cmd(t, 4, "admin", bson.D{{Key: "renameCollection", Value: "d.a"}, {Key: "to", Value: "d.b"}, {Key: "stayTemp", Value: false}}),
		entry(t, 5, "i", "d.a", doc(3, "new a"), nil),
		short(6, 0, 0, 200),
		short(7, 6, 2, 201),
		cmd(t, 8, "d", bson.D{{Key: "createIndexes", Value: "b"}, {Key: "v", Value: int32(2)},
			{Key: "key", Value: bson.D{{Key: "v", Value: int32(1)}}}, {Key: "name", Value: "v_1"}}),
		// the replay stops here
		txnPart(t, 9, 3, 2, "d.t", 101),
		entry(t, 10, "u", "d.b", bson.D{{Key: "$v", Value: int32(1)}, {Key: "$set", Value: bson.D{{Key: "v", Value: "a1 later"}}}}, id(1)),
	}
}

// nsState is every collection of db with its documents and indexes.
func nsState(t *testing.T, c *mongo.Client, db string) string {
	t.Helper()
	var out []string
	for _, coll := range collections(t, c, db) {
		out = append(out, coll+": "+strings.Join(contentsOf(t, c, db, coll), " ")+" indexes "+strings.Join(indexNames(t, c, db, coll), ","))
	}
	return strings.Join(out, "\n")
}

// A replay stopped while a transaction is open reports a resume point
// before it and a written position after the rename of d.a to d.b and
// the new d.a. Resumed with both, it ends exactly as an uninterrupted
// replay: the rename is not run again (which would replace d.b with the
// new d.a), the open transaction is rebuilt and applied at its commit,
// the one committed before the stop is not applied twice, and the index
// build deferred past the stop is still made.
func TestResumeWithWrittenRunsNoCommandTwice(t *testing.T) {
	ctx := context.Background()
	_, c := ferret(t)
	history := writtenHistory(t)
	run := func(opts Options, entries []bson.Raw, finish bool) Stats {
		t.Helper()
		a := NewApplier(c, opts, zerolog.Nop())
		defer a.Close()
		applyAll(t, a, entries)
		if finish {
			if err := a.Finish(ctx); err != nil {
				t.Fatal(err)
			}
		}
		return a.Stats()
	}

	whole := run(intoDB(t, "whole"), history, true)
	if want := at(10); whole.Applied != want || whole.Written != want {
		t.Errorf("uninterrupted replay: applied %s, written %s; want %s for both", whole.Applied, whole.Written, want)
	}
	want := nsState(t, c, "whole")
	if !strings.Contains(want, `b: {"_id": {"$numberInt":"1"},"v": "a1 later"} {"_id": {"$numberInt":"2"},"v": "a2"} indexes _id_,v_1`) {
		t.Fatalf("the uninterrupted replay left an unexpected d.b:\n%s", want)
	}

	stopped := run(intoDB(t, "resumed"), history[:8], false)
	if stopped.Applied != at(2) || stopped.Written != at(8) {
		t.Fatalf("stopped replay: resume point %s, written %s; want %s (before the open transaction) and %s", stopped.Applied, stopped.Written, at(2), at(8))
	}
	opts := intoDB(t, "resumed")
	opts.After, opts.Written = stopped.Applied, stopped.Written
	resumed := run(opts, history, true)
	if resumed.Resumed != 8 || resumed.TxnsCommitted != 1 || resumed.Commands != 0 || resumed.IndexesBuilt != 1 {
		t.Errorf("resumed replay: %d entries resumed, %d transactions, %d commands, %d indexes built; want 8, 1, 0, 1",
			resumed.Resumed, resumed.TxnsCommitted, resumed.Commands, resumed.IndexesBuilt)
	}
	if resumed.Applied != at(10) || resumed.Written != at(10) {
		t.Errorf("resumed replay: applied %s, written %s; want %s", resumed.Applied, resumed.Written, at(10))
	}
	if got := nsState(t, c, "resumed"); got != want {
		t.Errorf("resumed replay differs from an uninterrupted one:\n got\n%s\n want\n%s", got, want)
	}
}

// A replay resumed from a position with Written before After (or zero)
// takes After alone, as before Written existed: positions start there.
func TestWrittenNeverBeforeAfter(t *testing.T) {
	a := NewApplier(nil, Options{After: at(5), Written: at(3)}, zerolog.Nop())
	defer a.Close()
	if s := a.Stats(); s.Applied != at(5) || s.Written != at(5) {
		t.Errorf("applied %s, written %s; want %s for both", s.Applied, s.Written, at(5))
	}
	var zero oplog.Timestamp
	b := NewApplier(nil, Options{After: at(5), Written: zero}, zerolog.Nop())
	defer b.Close()
	if s := b.Stats(); s.Written != at(5) {
		t.Errorf("written %s with Written unset; want After, %s", s.Written, at(5))
	}
}

// A deferred index build can hold the resume point inside a transaction
// that ended before the stop (its start at or before the resume point,
// its commit after it). Resumed with After alone, its commit cannot be
// applied (its start is not read again) and stops the replay; with
// Written, the commit is known to be written and is passed over.
func TestResumeWithWrittenPassesTransactionEndedBeforeIt(t *testing.T) {
	ctx := context.Background()
	_, c := ferret(t)
	history := []bson.Raw{
		txnPart(t, 1, 0, 0, "d.t", 100),
		cmd(t, 2, "d", bson.D{{Key: "createIndexes", Value: "t"}, {Key: "v", Value: int32(2)},
			{Key: "key", Value: bson.D{{Key: "in", Value: int32(1)}}}, {Key: "name", Value: "in_1"}}),
		txnPart(t, 3, 1, 2, "d.t", 101),
		entry(t, 4, "i", "d.t", bson.D{{Key: "_id", Value: int32(5)}, {Key: "in", Value: "plain"}}, nil),
		// the replay stops here
		entry(t, 5, "i", "d.t", bson.D{{Key: "_id", Value: int32(6)}, {Key: "in", Value: "plain"}}, nil),
	}
	stopped := NewApplier(c, Options{}, zerolog.Nop())
	applyAll(t, stopped, history[:4])
	s := stopped.Stats()
	stopped.Close()
	if s.Applied != at(1) || s.Written != at(4) {
		t.Fatalf("stopped replay: resume point %s, written %s; want %s (before the index build) and %s", s.Applied, s.Written, at(1), at(4))
	}
	a := NewApplier(c, Options{After: s.Applied, Written: s.Written}, zerolog.Nop())
	applyAll(t, a, history)
	if err := a.Finish(ctx); err != nil {
		t.Fatalf("resumed replay: %v", err)
	}
	if got := strings.Join(contentsOf(t, c, "d", "t"), " "); strings.Count(got, "_id") != 4 {
		t.Errorf("d.t holds %s; want 100, 101, 5 and 6", got)
	}
	if got := strings.Join(indexNames(t, c, "d", "t"), ","); got != "_id_,in_1" {
		t.Errorf("d.t has indexes %s; want _id_,in_1", got)
	}
}
