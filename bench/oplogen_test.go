package bench

import (
	"fmt"
	"math/rand/v2"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// genOplog makes n oplog entries shaped as a MongoDB 6.0+ primary writes
// them: inserts, $v:1 and $v:2 updates, deletes, small transactions
// (applyOps with lsid/txnNumber) and a few DDL commands, over a handful of
// collections. Updates and deletes target live documents.
func genOplog(n int, seed uint64, withTxns bool) []bson.Raw {
	rng := rand.New(rand.NewPCG(seed, 1))
	nss := []string{"bench.orders", "bench.users", "bench.events", "bench.items"}
	live := map[string][]int32{}
	next := int32(0)
	t, i := uint32(1_800_000_000), uint32(0)
	ts := func() bson.Timestamp {
		i++
		if i > 5000 {
			t, i = t+1, 1
		}
		return bson.Timestamp{T: t, I: i}
	}
	mk := func(d bson.D) bson.Raw {
		b, err := bson.Marshal(d)
		if err != nil {
			panic(err) // test data built from literals
		}
		return b
	}
	doc := func(id int32) bson.D {
		return bson.D{{Key: "_id", Value: id}, {Key: "n", Value: rng.Int32N(1000)}, {Key: "name", Value: fmt.Sprintf("item-%d", id)},
			{Key: "tags", Value: bson.A{"a", "b", rng.Int32N(10)}}, {Key: "sub", Value: bson.D{{Key: "x", Value: rng.Float64()}, {Key: "y", Value: "z"}}}}
	}
	crud := func() bson.D {
		ns := nss[rng.IntN(len(nss))]
		ids := live[ns]
		r := rng.IntN(100)
		switch {
		case r < 45 || len(ids) < 10:
			next++
			live[ns] = append(ids, next)
			return bson.D{{Key: "op", Value: "i"}, {Key: "ns", Value: ns}, {Key: "o", Value: doc(next)}, {Key: "o2", Value: bson.D{{Key: "_id", Value: next}}}}
		case r < 65:
			id := ids[rng.IntN(len(ids))]
			return bson.D{{Key: "op", Value: "u"}, {Key: "ns", Value: ns},
				{Key: "o", Value: bson.D{{Key: "$v", Value: int32(1)}, {Key: "$set", Value: bson.D{{Key: "n", Value: rng.Int32N(1000)}, {Key: "sub.y", Value: "v1"}}}}},
				{Key: "o2", Value: bson.D{{Key: "_id", Value: id}}}}
		case r < 85:
			id := ids[rng.IntN(len(ids))]
			return bson.D{{Key: "op", Value: "u"}, {Key: "ns", Value: ns},
				{Key: "o", Value: bson.D{{Key: "$v", Value: int32(2)}, {Key: "diff", Value: bson.D{
					{Key: "u", Value: bson.D{{Key: "n", Value: rng.Int32N(1000)}}},
					{Key: "ssub", Value: bson.D{{Key: "i", Value: bson.D{{Key: "w", Value: rng.Int32N(9)}}}}}}}}},
				{Key: "o2", Value: bson.D{{Key: "_id", Value: id}}}}
		default:
			k := rng.IntN(len(ids))
			id := ids[k]
			live[ns] = append(ids[:k], ids[k+1:]...)
			return bson.D{{Key: "op", Value: "d"}, {Key: "ns", Value: ns}, {Key: "o", Value: bson.D{{Key: "_id", Value: id}}}}
		}
	}
	out := make([]bson.Raw, 0, n)
	add := func(d bson.D) {
		d = append(bson.D{{Key: "ts", Value: ts()}, {Key: "t", Value: int64(1)}, {Key: "v", Value: int64(2)}}, d...)
		out = append(out, mk(d))
	}
	add(bson.D{{Key: "op", Value: "c"}, {Key: "ns", Value: "bench.$cmd"}, {Key: "o", Value: bson.D{{Key: "create", Value: "orders"}}}})
	txn, ddl := int64(0), 0
	for len(out) < n {
		r := rng.IntN(10000)
		switch {
		case r < 1:
			// A few DDL: an index build, done after the data by the engine.
			ddl++
			field := fmt.Sprintf("f%d", ddl)
			add(bson.D{{Key: "op", Value: "c"}, {Key: "ns", Value: "bench.$cmd"}, {Key: "o", Value: bson.D{
				{Key: "createIndexes", Value: "events"}, {Key: "v", Value: int32(2)},
				{Key: "key", Value: bson.D{{Key: field, Value: int32(1)}}}, {Key: "name", Value: field + "_1"}}}})
		case r < 300 && withTxns:
			txn++
			ops := bson.A{}
			for k := 0; k < 3; k++ {
				ops = append(ops, crud())
			}
			add(bson.D{{Key: "lsid", Value: bson.D{{Key: "id", Value: bson.Binary{Subtype: 4, Data: make([]byte, 16)}}}},
				{Key: "txnNumber", Value: txn}, {Key: "op", Value: "c"}, {Key: "ns", Value: "admin.$cmd"},
				{Key: "o", Value: bson.D{{Key: "applyOps", Value: ops}}},
				{Key: "prevOpTime", Value: bson.D{{Key: "ts", Value: bson.Timestamp{}}, {Key: "t", Value: int64(-1)}}}})
		default:
			add(crud())
		}
	}
	return out
}
