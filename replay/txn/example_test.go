package txn_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/replay/txn"
)

// A replay to --to: feed every entry up to the target, apply what the Buffer
// says, and report the transactions left open.
func Example() {
	ctx := context.Background()
	to := oplog.Timestamp{T: 1700000000, I: 3}
	lsid := bson.D{{Key: "id", Value: bson.Binary{Subtype: 4, Data: make([]byte, 16)}}}
	insert := func(id int32) bson.D {
		return bson.D{{Key: "op", Value: "i"}, {Key: "ns", Value: "shop.orders"}, {Key: "o", Value: bson.D{{Key: "_id", Value: id}}}}
	}
	entries := []bson.D{
		{{Key: "ts", Value: bson.Timestamp{T: 1700000000, I: 1}}, {Key: "op", Value: "i"}, {Key: "ns", Value: "shop.carts"}, {Key: "o", Value: bson.D{{Key: "_id", Value: 1}}}},
		{ // a prepared transaction: its commit comes after --to
			{Key: "ts", Value: bson.Timestamp{T: 1700000000, I: 2}}, {Key: "op", Value: "c"}, {Key: "ns", Value: "admin.$cmd"},
			{Key: "lsid", Value: lsid}, {Key: "txnNumber", Value: int64(4)},
			{Key: "o", Value: bson.D{{Key: "applyOps", Value: bson.A{insert(1), insert(2)}}, {Key: "prepare", Value: true}}},
		},
		{ // a user applyOps: not a transaction
			{Key: "ts", Value: bson.Timestamp{T: 1700000000, I: 3}}, {Key: "op", Value: "c"}, {Key: "ns", Value: "admin.$cmd"},
			{Key: "o", Value: bson.D{{Key: "applyOps", Value: bson.A{insert(3)}}}},
		},
	}

	b := txn.New(txn.Options{}) // 64 MiB in memory, spill files in os.TempDir()
	defer b.Close()
	for _, d := range entries {
		entry, _ := bson.Marshal(d)
		if ts, _ := oplog.EntryTS(entry); ts.After(to) {
			break
		}
		act, err := b.Add(ctx, entry)
		var te *txn.TxnError
		switch {
		case errors.As(err, &te) && errors.Is(err, txn.ErrUnknownTransaction):
			log.Printf("not restored: %v", err) // e.g. the range starts mid-transaction
			continue
		case err != nil:
			log.Fatal(err)
		}
		switch act.Kind {
		case txn.Apply, txn.Commit:
			err = act.Ops(ctx, func(op bson.Raw) error {
				fmt.Printf("%s at %s: apply %s %s\n", act.Kind, act.TS, op.Lookup("op").StringValue(), op.Lookup("ns").StringValue())
				return nil // applier.Apply(ctx, op)
			})
		case txn.Abort:
			fmt.Printf("aborted: %d operations dropped\n", act.Count)
		}
		if err != nil {
			log.Fatal(err)
		}
	}
	for _, p := range b.Pending() {
		fmt.Printf("not applied: %s started at %s (prepared %v) and did not commit by %s\n", p.ID, p.FirstTS, p.Prepared, to)
	}
	// Output:
	// apply at 1700000000.1: apply i shop.carts
	// apply at 1700000000.3: apply i shop.orders
	// not applied: transaction lsid 00000000-0000-0000-0000-000000000000 txnNumber 4 started at 1700000000.2 (prepared true) and did not commit by 1700000000.3
}
