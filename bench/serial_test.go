package bench

import (
	"context"
	"fmt"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tidelog/tidelog/replay/diff"
)

// applySerial is the baseline: one write per oplog entry, in order, on one
// goroutine — what PBM, WAL-G and mongorestore's one applyOps per entry
// amount to. Inserts upsert, $v:1 updates go to the server as they are,
// $v:2 updates (which a server-side applyOps would apply itself) read the
// document, apply the diff and replace it, commands run, transactions'
// operations apply one by one.
func applySerial(ctx context.Context, c *mongo.Client, entries []bson.Raw) error {
	for _, e := range entries {
		if err := serialOne(ctx, c, e); err != nil {
			return fmt.Errorf("serial baseline at %s: %w", e.Lookup("ts"), err)
		}
	}
	return nil
}

func serialOne(ctx context.Context, c *mongo.Client, e bson.Raw) error {
	ns := e.Lookup("ns").StringValue()
	db, coll, _ := strings.Cut(ns, ".")
	o := e.Lookup("o").Document()
	col := c.Database(db).Collection(coll)
	switch e.Lookup("op").StringValue() {
	case "i":
		_, err := col.ReplaceOne(ctx, bson.D{{Key: "_id", Value: o.Lookup("_id")}}, o, options.Replace().SetUpsert(true))
		return err
	case "d":
		_, err := col.DeleteOne(ctx, bson.D{{Key: "_id", Value: o.Lookup("_id")}})
		return err
	case "u":
		filter := bson.D{{Key: "_id", Value: e.Lookup("o2", "_id")}}
		if v, _ := o.Lookup("$v").AsInt64OK(); v == 2 {
			var pre bson.Raw
			if err := col.FindOne(ctx, filter).Decode(&pre); err != nil {
				return err
			}
			post, err := diff.ApplyOplogUpdate(pre, o)
			if err != nil {
				return err
			}
			_, err = col.ReplaceOne(ctx, filter, post)
			return err
		}
		update := bson.D{}
		elems, _ := o.Elements()
		for _, el := range elems {
			if el.Key() != "$v" {
				update = append(update, bson.E{Key: el.Key(), Value: el.Value()})
			}
		}
		_, err := col.UpdateOne(ctx, filter, update)
		return err
	case "c":
		first := o.Index(0)
		if first.Key() == "applyOps" {
			ops, _ := first.Value().Array().Values()
			for _, op := range ops {
				inner := op.Document()
				wrapped, err := bson.Marshal(append(bson.D{{Key: "ts", Value: e.Lookup("ts")}}, rawFields(inner)...))
				if err != nil {
					return err
				}
				if err := serialOne(ctx, c, wrapped); err != nil {
					return err
				}
			}
			return nil
		}
		cmd := rawFields(o)
		if first.Key() == "createIndexes" {
			spec := bson.D{}
			for _, f := range cmd[1:] {
				if f.Key != "v" {
					spec = append(spec, f)
				}
			}
			cmd = bson.D{cmd[0], {Key: "indexes", Value: bson.A{spec}}}
		}
		err := c.Database(db).RunCommand(ctx, cmd).Err()
		if se, ok := err.(mongo.ServerError); ok && se.HasErrorCode(48) {
			return nil
		}
		return err
	}
	return nil
}

func rawFields(d bson.Raw) bson.D {
	elems, _ := d.Elements()
	out := make(bson.D, 0, len(elems))
	for _, e := range elems {
		out = append(out, bson.E{Key: e.Key(), Value: e.Value()})
	}
	return out
}
