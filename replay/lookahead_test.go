package replay

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/oplog"
)

// at is Timestamp(1700000000, i), the second every test entry lives in.
func at(i uint32) oplog.Timestamp { return oplog.Timestamp{T: 1700000000, I: i} }

// session is the lsid/txnNumber part of session s's transaction 1.
func session(s byte) bson.D {
	return bson.D{
		{Key: "lsid", Value: bson.D{{Key: "id", Value: bson.Binary{Subtype: 4, Data: bytes.Repeat([]byte{s}, 16)}}}},
		{Key: "txnNumber", Value: int64(1)},
	}
}

func marshal(t *testing.T, d bson.D) bson.Raw {
	t.Helper()
	raw, err := bson.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// prepare is the prepare applyOps of session s at i, inserting ids into ns:
// one participant's side of a distributed transaction.
func prepare(t *testing.T, i uint32, s byte, ns string, ids ...int32) bson.Raw {
	t.Helper()
	ops := bson.A{}
	for _, id := range ids {
		ops = append(ops, bson.D{{Key: "op", Value: "i"}, {Key: "ns", Value: ns},
			{Key: "o", Value: bson.D{{Key: "_id", Value: id}, {Key: "in", Value: "txn"}}}})
	}
	d := append(session(s),
		bson.E{Key: "op", Value: "c"}, bson.E{Key: "ns", Value: "admin.$cmd"},
		bson.E{Key: "o", Value: bson.D{{Key: "applyOps", Value: ops}, {Key: "prepare", Value: true}}},
		bson.E{Key: "ts", Value: bson.Timestamp{T: 1700000000, I: i}},
		bson.E{Key: "prevOpTime", Value: bson.D{{Key: "ts", Value: bson.Timestamp{}}, {Key: "t", Value: int64(-1)}}})
	return marshal(t, d)
}

// commit is session s's commitTransaction entry at i, with the cluster's
// commitTimestamp c, following its prepare at p.
func commit(t *testing.T, i uint32, s byte, p, c uint32) bson.Raw {
	t.Helper()
	return ending(t, i, s, p, bson.D{{Key: "commitTransaction", Value: int32(1)},
		{Key: "commitTimestamp", Value: bson.Timestamp{T: 1700000000, I: c}}})
}

// abort is session s's abortTransaction entry at i, following its prepare at p.
func abort(t *testing.T, i uint32, s byte, p uint32) bson.Raw {
	t.Helper()
	return ending(t, i, s, p, bson.D{{Key: "abortTransaction", Value: int32(1)}})
}

func ending(t *testing.T, i uint32, s byte, p uint32, o bson.D) bson.Raw {
	d := append(session(s),
		bson.E{Key: "op", Value: "c"}, bson.E{Key: "ns", Value: "admin.$cmd"}, bson.E{Key: "o", Value: o},
		bson.E{Key: "ts", Value: bson.Timestamp{T: 1700000000, I: i}},
		bson.E{Key: "prevOpTime", Value: bson.D{{Key: "ts", Value: bson.Timestamp{T: 1700000000, I: p}}, {Key: "t", Value: int64(1)}}})
	return marshal(t, d)
}

// sliceSource yields entries through to (through: true) or after it.
func sliceSource(t *testing.T, entries []bson.Raw, to oplog.Timestamp, through bool) Source {
	return func(fn func(bson.Raw) error) error {
		for _, e := range entries {
			ts, err := oplog.EntryTS(e)
			if err != nil {
				t.Fatal(err)
			}
			if ts.After(to) == through {
				continue
			}
			if err := fn(e); err != nil {
				return err
			}
		}
		return nil
	}
}

// cutAt replays entries onto db (the entries' d.* renamed) cut at to, with
// the rest as the lookahead unless lookahead is false: a restore of one
// shard to to.
func cutAt(t *testing.T, c *mongo.Client, db string, entries []bson.Raw, to oplog.Timestamp, lookahead bool) (Stats, []string) {
	t.Helper()
	ns, err := NewNamespaces(nil, nil, []string{"d.*"}, []string{db + ".*"})
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Namespaces: ns}
	if lookahead {
		opts.Lookahead = Lookahead{To: to, Source: sliceSource(t, entries, to, false)}
	}
	stats, written, err := Replay(context.Background(), sliceSource(t, entries, to, true), c, opts, Refuse, zerolog.Nop())
	if err != nil {
		t.Fatalf("replay to %s: %v", to, err)
	}
	return stats, written
}

// shardHistory is one participant's oplog around a distributed transaction
// of session 1 (inserting 100 and 101 into d.txn): prepared at 2, a write
// at 3, the commit decided with commitTimestamp 4 (another participant's
// prepare), its commit entry here at 6, then more writes. The lookahead
// must stop at 6: the entries after it would be applied if it read them.
func shardHistory(t *testing.T, end bson.Raw) []bson.Raw {
	doc := func(id int32) bson.D { return bson.D{{Key: "_id", Value: id}} }
	return []bson.Raw{
		entry(t, 1, "i", "d.plain", doc(1), nil),
		prepare(t, 2, 1, "d.txn", 100, 101),
		entry(t, 3, "i", "d.plain", doc(3), nil),
		entry(t, 5, "n", "", bson.D{{Key: "msg", Value: "periodic noop"}}, nil),
		end,
		entry(t, 7, "i", "d.plain", doc(7), nil),
		entry(t, 8, "i", "d.late", doc(8), nil),
	}
}

// A prepared transaction open at the cut T is applied iff its
// commitTimestamp is at or before T, whatever the ts of its commit entry;
// one aborted, or committed after T, or whose outcome the data after T does
// not hold, is not; and nothing else after T is applied.
func TestTxnLookaheadDecidesPreparedByCommitTimestamp(t *testing.T) {
	srv := testserver.StartT(t, testserver.Options{NoOplog: true})
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(context.Background())

	committed := shardHistory(t, commit(t, 6, 1, 2, 4))
	aborted := shardHistory(t, abort(t, 6, 1, 2))
	unresolved := slices.Delete(shardHistory(t, nil), 4, 5) // no commit or abort anywhere
	cases := []struct {
		name      string
		entries   []bson.Raw
		to        uint32
		lookahead bool
		applied   bool
		plain     []string // d.plain after the replay
		check     func(t *testing.T, s Stats)
	}{
		{name: "T between commitTimestamp and commit entry", entries: committed, to: 5, lookahead: true, applied: true,
			plain: []string{"1", "3"}, check: func(t *testing.T, s Stats) {
				if s.TxnsLateCommits != 1 || s.TxnsCommitted != 1 || s.OpenTxns != 0 || s.LookaheadEntries != 1 {
					t.Errorf("stats %+v: want 1 late commit among 1 committed, none open, 1 entry read after T (the lookahead stops at the commit)", s)
				}
				if s.Applied != at(5) {
					t.Errorf("resume point %s, want %s: the commit entry (6) is after the cut", s.Applied, at(5))
				}
			}},
		{name: "T at commitTimestamp", entries: committed, to: 4, lookahead: true, applied: true,
			plain: []string{"1", "3"}, check: func(t *testing.T, s Stats) {
				if s.TxnsLateCommits != 1 {
					t.Errorf("stats %+v: want 1 late commit", s)
				}
			}},
		{name: "T between prepare and commitTimestamp", entries: committed, to: 3, lookahead: true, applied: false,
			plain: []string{"1", "3"}, check: func(t *testing.T, s Stats) {
				if s.TxnsCommittedAfter != 1 || s.TxnsCommitted != 0 || s.OpenTxns != 0 {
					t.Errorf("stats %+v: want 1 committed after the cut, none committed, none open", s)
				}
				if s.Applied != at(3) {
					t.Errorf("resume point %s, want %s", s.Applied, at(3))
				}
			}},
		{name: "T before the prepare", entries: committed, to: 1, lookahead: true, applied: false,
			plain: []string{"1"}, check: func(t *testing.T, s Stats) {
				if s.LookaheadEntries != 0 || s.TxnsCommittedAfter != 0 {
					t.Errorf("stats %+v: nothing was open at the cut, the lookahead must read nothing", s)
				}
			}},
		{name: "aborted after T", entries: aborted, to: 5, lookahead: true, applied: false,
			plain: []string{"1", "3"}, check: func(t *testing.T, s Stats) {
				if s.TxnsAborted != 1 || s.TxnsCommitted != 0 || s.OpenTxns != 0 || s.LookaheadEntries != 1 {
					t.Errorf("stats %+v: want 1 aborted, none committed or open, 1 entry read after T", s)
				}
			}},
		{name: "unresolved at the end of the data", entries: unresolved, to: 5, lookahead: true, applied: false,
			plain: []string{"1", "3"}, check: func(t *testing.T, s Stats) {
				if len(s.Unresolved) != 1 || s.OpenTxns != 1 || s.LookaheadEntries != 2 {
					t.Fatalf("stats %+v: want 1 unresolved (open) transaction after reading the 2 entries after T", s)
				}
				if u := s.Unresolved[0]; !u.Prepared || u.LastTS != at(2) || u.Ops != 2 {
					t.Errorf("unresolved %+v: want the prepare at %s with 2 operations", u, at(2))
				}
				if s.Applied != at(1) {
					t.Errorf("resume point %s, want %s: before the unresolved prepare", s.Applied, at(1))
				}
			}},
		{name: "no lookahead: the commit entry decides (the old cut)", entries: committed, to: 5, lookahead: false, applied: false,
			plain: []string{"1", "3"}, check: func(t *testing.T, s Stats) {
				if s.OpenTxns != 1 || len(s.Unresolved) != 0 || s.LookaheadEntries != 0 {
					t.Errorf("stats %+v: want the transaction left open, not reported as unresolved", s)
				}
			}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db := "la" + string(rune('a'+i))
			stats, written := cutAt(t, c, db, tc.entries, at(tc.to), tc.lookahead)
			tc.check(t, stats)
			var want []string
			if tc.applied {
				want = []string{"100", "101"}
			}
			if got := ids(t, c, db, "txn"); !slices.Equal(got, want) {
				t.Errorf("%s.txn holds %v, want %v", db, got, want)
			}
			if slices.Contains(written, db+".txn") != tc.applied {
				t.Errorf("the checking pass reserved %v: %s.txn there is %v, want %v", written, db, !tc.applied, tc.applied)
			}
			if got := ids(t, c, db, "plain"); !slices.Equal(got, tc.plain) {
				t.Errorf("%s.plain holds %v, want %v: entries after T were applied", db, got, tc.plain)
			}
			if got := ids(t, c, db, "late"); len(got) != 0 {
				t.Errorf("%s.late holds %v: an entry after T was applied", db, got)
			}
		})
	}
}

// Two transactions open at the cut: the lookahead reads until both are
// decided (one committed in time, one after), and ignores a transaction
// prepared and committed after the cut.
func TestTxnLookaheadWaitsForEveryPrepared(t *testing.T) {
	srv := testserver.StartT(t, testserver.Options{NoOplog: true})
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(context.Background())
	entries := []bson.Raw{
		prepare(t, 1, 1, "d.a", 1),
		prepare(t, 2, 2, "d.b", 2),
		commit(t, 5, 1, 1, 3),               // in time: commitTimestamp 3 <= 4
		prepare(t, 6, 3, "d.c", 3),          // prepared after the cut
		commit(t, 7, 3, 6, 6),               // not open at the cut: ignored
		commit(t, 8, 2, 2, 6),               // too late: commitTimestamp 6 > 4
		entry(t, 9, "i", "d.a", id(9), nil), // never read
	}
	stats, _ := cutAt(t, c, "two", entries, at(4), true)
	if stats.TxnsLateCommits != 1 || stats.TxnsCommittedAfter != 1 || stats.OpenTxns != 0 || stats.LookaheadEntries != 4 {
		t.Errorf("stats %+v: want 1 late commit, 1 committed after, none open, 4 entries read after T", stats)
	}
	for coll, want := range map[string][]string{"a": {"1"}, "b": nil, "c": nil} {
		if got := ids(t, c, "two", coll); !slices.Equal(got, want) {
			t.Errorf("two.%s holds %v, want %v", coll, got, want)
		}
	}
}

// A failure while a transaction's operations are being written (after a
// command among them flushed the batch) reports a resume point before the
// transaction's start, so that running again from it applies the whole
// transaction. Before, the flush moved it to the commit entry, and the
// operations after the command were lost on resume.
func TestTxnResumePointStaysBeforeTransactionBeingWritten(t *testing.T) {
	srv := testserver.StartT(t, testserver.Options{NoOplog: true})
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(context.Background())
	ops := bson.A{
		bson.D{{Key: "op", Value: "i"}, {Key: "ns", Value: "rp.t"}, {Key: "o", Value: id(1)}},
		bson.D{{Key: "op", Value: "c"}, {Key: "ns", Value: "rp.$cmd"}, {Key: "o", Value: bson.D{{Key: "create", Value: "t2"}}}},
		// An update the writer refuses when the batch is written.
		bson.D{{Key: "op", Value: "u"}, {Key: "ns", Value: "rp.t"}, {Key: "o2", Value: id(1)},
			{Key: "o", Value: bson.D{{Key: "$v", Value: int32(1)}, {Key: "$inc", Value: bson.D{{Key: "n", Value: int32(1)}}}}}},
	}
	txnEntry := marshal(t, append(session(4),
		bson.E{Key: "op", Value: "c"}, bson.E{Key: "ns", Value: "admin.$cmd"},
		bson.E{Key: "o", Value: bson.D{{Key: "applyOps", Value: ops}}},
		bson.E{Key: "ts", Value: bson.Timestamp{T: 1700000000, I: 2}}))
	entries := []bson.Raw{entry(t, 1, "i", "rp.t", id(0), nil), txnEntry}
	src := sliceSource(t, entries, oplog.Max, true)
	_, err = Write(context.Background(), src, c, Options{}, zerolog.Nop())
	var stopped *StoppedError
	if !errors.As(err, &stopped) {
		t.Fatalf("want a StoppedError from the refused update, got %v", err)
	}
	if stopped.Applied != at(1) {
		t.Errorf("resume point %s, want %s: the transaction at %s is only partly written", stopped.Applied, at(1), at(2))
	}
	if !strings.Contains(err.Error(), "$inc") {
		t.Errorf("the error does not name the refused update: %v", err)
	}
}

// ids lists the _id values of db.coll (integers), sorted, as strings.
func ids(t *testing.T, c *mongo.Client, db, coll string) []string {
	t.Helper()
	ctx := context.Background()
	cur, err := c.Database(db).Collection(coll).Find(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close(ctx)
	var out []string
	for cur.Next(ctx) {
		n, ok := cur.Current.Lookup("_id").AsInt64OK()
		if !ok {
			t.Fatalf("%s.%s: _id is not an integer: %s", db, coll, cur.Current)
		}
		out = append(out, strconv.FormatInt(n, 10))
	}
	if err := cur.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}
