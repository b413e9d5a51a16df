package txn

import (
	"bytes"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/oplog"
)

// Builders of synthetic oplog entries, shaped like a 4.4+ server writes them.

const testSecond = 1700000000

func at(i uint32) oplog.Timestamp { return oplog.Timestamp{T: testSecond, I: i} }

func bts(i uint32) bson.Timestamp { return bson.Timestamp{T: testSecond, I: i} }

// lsidDoc is session n's lsid: {id: UUID(n n n ...), uid: 32 zero bytes}.
func lsidDoc(n byte) bson.D {
	return bson.D{
		{Key: "id", Value: bson.Binary{Subtype: 4, Data: bytes.Repeat([]byte{n}, 16)}},
		{Key: "uid", Value: bson.Binary{Subtype: 0, Data: make([]byte, 32)}},
	}
}

// prevOpTime of an entry whose predecessor is at Timestamp(testSecond, i);
// i == 0 gives the empty OpTime of a first entry.
func prevOpTime(i uint32) bson.D {
	if i == 0 {
		return bson.D{{Key: "ts", Value: bson.Timestamp{}}, {Key: "t", Value: int64(-1)}}
	}
	return bson.D{{Key: "ts", Value: bts(i)}, {Key: "t", Value: int64(1)}}
}

// insertOp is an inner insert of {_id: id, pad: <pad bytes>} into ns.
func insertOp(ns string, id int32, pad int) bson.D {
	return bson.D{
		{Key: "op", Value: "i"}, {Key: "ns", Value: ns},
		{Key: "ui", Value: bson.Binary{Subtype: 4, Data: make([]byte, 16)}},
		{Key: "o", Value: bson.D{{Key: "_id", Value: id}, {Key: "pad", Value: string(bytes.Repeat([]byte{'x'}, pad))}}},
	}
}

func mustRaw(t testing.TB, d bson.D) bson.Raw {
	t.Helper()
	b, err := bson.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// plain is an ordinary insert entry at i.
func plain(t testing.TB, i uint32, ns string, id int32) bson.Raw {
	d := append(insertOp(ns, id, 0), envelope(i)...)
	return mustRaw(t, d)
}

func envelope(i uint32) bson.D {
	return bson.D{
		{Key: "ts", Value: bts(i)}, {Key: "t", Value: int64(1)}, {Key: "v", Value: int64(2)},
		{Key: "wall", Value: bson.NewDateTimeFromTime(time.Unix(testSecond, 0))},
	}
}

// txnEntry describes an applyOps entry of a transaction.
type txnEntry struct {
	session  byte // 0: no lsid/txnNumber
	txn      int64
	prev     uint32 // prevOpTime -> Timestamp(testSecond, prev); 0: empty
	noPrev   bool   // leave prevOpTime out
	partial  bool
	prepare  bool
	count    int // o.count when > 0
	extraO   bson.D
	extraTop bson.D
}

func applyOps(t testing.TB, i uint32, x txnEntry, ops ...bson.D) bson.Raw {
	t.Helper()
	arr := bson.A{}
	for _, op := range ops {
		arr = append(arr, op)
	}
	o := bson.D{{Key: "applyOps", Value: arr}}
	if x.partial {
		o = append(o, bson.E{Key: "partialTxn", Value: true})
	}
	if x.prepare {
		o = append(o, bson.E{Key: "prepare", Value: true})
	}
	if x.count > 0 {
		o = append(o, bson.E{Key: "count", Value: int64(x.count)})
	}
	o = append(o, x.extraO...)
	d := bson.D{}
	if x.session != 0 {
		d = append(d, bson.E{Key: "lsid", Value: lsidDoc(x.session)}, bson.E{Key: "txnNumber", Value: x.txn})
	}
	d = append(d, bson.E{Key: "op", Value: "c"}, bson.E{Key: "ns", Value: "admin.$cmd"}, bson.E{Key: "o", Value: o})
	d = append(d, envelope(i)...)
	if !x.noPrev && (x.session != 0 || x.prev != 0 || x.partial) {
		d = append(d, bson.E{Key: "prevOpTime", Value: prevOpTime(x.prev)})
	}
	d = append(d, x.extraTop...)
	return mustRaw(t, d)
}

// commitEntry / abortEntry of session s, txnNumber txn, prevOpTime -> prev.
func commitTxn(t testing.TB, i uint32, s byte, txn int64, prev, commitTS uint32) bson.Raw {
	o := bson.D{{Key: "commitTransaction", Value: int32(1)}, {Key: "commitTimestamp", Value: bts(commitTS)}}
	return endTxn(t, i, s, txn, prev, o)
}

func abortTxn(t testing.TB, i uint32, s byte, txn int64, prev uint32) bson.Raw {
	return endTxn(t, i, s, txn, prev, bson.D{{Key: "abortTransaction", Value: int32(1)}})
}

func endTxn(t testing.TB, i uint32, s byte, txn int64, prev uint32, o bson.D) bson.Raw {
	d := bson.D{
		{Key: "lsid", Value: lsidDoc(s)}, {Key: "txnNumber", Value: txn},
		{Key: "op", Value: "c"}, {Key: "ns", Value: "admin.$cmd"}, {Key: "o", Value: o},
	}
	d = append(d, envelope(i)...)
	d = append(d, bson.E{Key: "prevOpTime", Value: prevOpTime(prev)})
	return mustRaw(t, d)
}
