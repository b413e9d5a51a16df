package txn

import (
	"context"
	"errors"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Resolves recognises exactly the commit or abort of an open prepared
// transaction, changes nothing, and does not look into other entries (a
// malformed applyOps after a cut must not fail a replay that ignores it).
func TestTxnResolves(t *testing.T) {
	b := New(Options{SpillDir: t.TempDir()})
	defer b.Close()
	feed(t, b, []bson.Raw{
		applyOps(t, 1, txnEntry{session: 1, txn: 1, prepare: true}, insertOp("d.c", 1, 0)),
		applyOps(t, 2, txnEntry{session: 2, txn: 1, partial: true}, insertOp("d.c", 2, 0)),
	})
	before := b.Pending()
	cases := []struct {
		name  string
		entry bson.Raw
		want  bool
	}{
		{"commit of the prepared transaction", commitTxn(t, 5, 1, 1, 1, 3), true},
		{"abort of the prepared transaction", abortTxn(t, 5, 1, 1, 1), true},
		{"commit of another transaction number", commitTxn(t, 5, 1, 2, 1, 3), false},
		{"commit of an unknown session", commitTxn(t, 5, 9, 1, 1, 3), false},
		{"abort of an open unprepared chain", abortTxn(t, 5, 2, 1, 2), false},
		{"an ordinary entry", plain(t, 5, "d.c", 7), false},
		{"a malformed applyOps", mustRaw(t, bson.D{{Key: "op", Value: "c"}, {Key: "ns", Value: "admin.$cmd"},
			{Key: "o", Value: bson.D{{Key: "applyOps", Value: "not an array"}}}, {Key: "ts", Value: bts(5)}}), false},
	}
	for _, tc := range cases {
		got, err := b.Resolves(tc.entry)
		if err != nil || got != tc.want {
			t.Errorf("%s: Resolves = %v, %v; want %v, nil", tc.name, got, err, tc.want)
		}
	}
	if after := b.Pending(); len(after) != len(before) || after[0].ID.key() != before[0].ID.key() || after[1].Ops != before[1].Ops {
		t.Errorf("Resolves changed the open transactions: %+v, was %+v", after, before)
	}

	bad := mustRaw(t, append(bson.D{{Key: "op", Value: "c"}, {Key: "ns", Value: "admin.$cmd"},
		{Key: "o", Value: bson.D{{Key: "commitTransaction", Value: int32(1)}}}}, envelope(6)...))
	if _, err := b.Resolves(bad); !errors.Is(err, ErrMalformed) {
		t.Errorf("a commitTransaction without lsid or commitTimestamp: err %v, want ErrMalformed", err)
	}

	act, err := b.Add(context.Background(), commitTxn(t, 7, 1, 1, 1, 3))
	if err != nil || act.Kind != Commit || act.CommitTimestamp != at(3) {
		t.Fatalf("the commit Resolves recognised: %v %+v", err, act)
	}
	if got, err := b.Resolves(commitTxn(t, 8, 1, 1, 1, 3)); got || err != nil {
		t.Errorf("a second commit of a decided transaction: Resolves = %v, %v; want false, nil", got, err)
	}
	b.Close()
	if _, err := b.Resolves(commitTxn(t, 9, 1, 1, 1, 3)); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: err %v, want ErrClosed", err)
	}
}
