package replay

import (
	"context"
	"errors"
	"fmt"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tidelog/tidelog/oplog"
)

// Server error codes a replay treats as "already done": replaying a range
// twice runs each command twice.
const (
	codeNamespaceNotFound = 26
	codeIndexNotFound     = 27
	codeNamespaceExists   = 48
)

// commands applies "c" entries (DDL) to the target. Callers flush pending
// writes first: a command is a barrier.
type commands struct {
	client  *mongo.Client
	ns      Namespaces
	indexes *pendingIndexes
	log     zerolog.Logger
	// dry: the command was written by the replay being resumed (see
	// Applier.rewritten). Only the deferred index builds change; the
	// target is not touched, since running a namespace command twice is
	// not always harmless.
	dry bool
}

// apply runs one command entry of database db. It returns false (and no
// error) when the namespace filter leaves it out.
func (c *commands) apply(ctx context.Context, ts oplog.Timestamp, db string, o bson.Raw) (bool, error) {
	elems, err := o.Elements()
	if err != nil || len(elems) == 0 {
		return false, fmt.Errorf("command at %s on %s: o is not a command document", ts, db)
	}
	name := elems[0].Key()
	arg := elems[0].Value()
	coll, _ := arg.StringValueOK()
	unsupported := &UnsupportedError{TS: ts, NS: db + ".$cmd", What: "command " + name}
	if name == "createIndexes" || name == "commitIndexBuild" {
		c.indexes.noteSince(ts)
	}

	switch name {
	case "create":
		return c.onCollection(ctx, db, coll, func(tdb, tcoll string) error {
			cmd := bson.D{{Key: "create", Value: tcoll}}
			for _, e := range elems[1:] {
				if e.Key() == "idIndex" { // the server builds _id itself
					continue
				}
				cmd = append(cmd, bson.E{Key: e.Key(), Value: e.Value()})
			}
			return ignore(c.run(ctx, tdb, cmd), codeNamespaceExists)
		})
	case "drop":
		return c.onCollection(ctx, db, coll, func(tdb, tcoll string) error {
			c.indexes.dropCollection(tdb + "." + tcoll)
			return ignore(c.run(ctx, tdb, bson.D{{Key: "drop", Value: tcoll}}), codeNamespaceNotFound)
		})
	case "dropDatabase":
		return c.dropDatabase(ctx, db)
	case "renameCollection":
		return c.rename(ctx, ts, o)
	case "createIndexes":
		return c.onCollection(ctx, db, coll, func(tdb, tcoll string) error {
			if specs, ok := o.Lookup("indexes").ArrayOK(); ok { // older form: a list of specs
				return c.addSpecs(tdb+"."+tcoll, specs)
			}
			spec := bson.D{}
			for _, e := range elems[1:] {
				spec = append(spec, bson.E{Key: e.Key(), Value: e.Value()})
			}
			c.indexes.add(tdb+"."+tcoll, cleanSpec(spec))
			return nil
		})
	case "commitIndexBuild":
		return c.onCollection(ctx, db, coll, func(tdb, tcoll string) error {
			specs, ok := o.Lookup("indexes").ArrayOK()
			if !ok {
				return fmt.Errorf("commitIndexBuild at %s: no indexes array", ts)
			}
			return c.addSpecs(tdb+"."+tcoll, specs)
		})
	case "startIndexBuild", "abortIndexBuild":
		// The build is applied at its commitIndexBuild; start and abort change no data.
		return true, nil
	case "dropIndexes", "deleteIndexes":
		return c.onCollection(ctx, db, coll, func(tdb, tcoll string) error {
			index, _ := o.Lookup("index").StringValueOK()
			if index == "" {
				return unsupported
			}
			if c.indexes.drop(tdb+"."+tcoll, index) && index != "*" {
				return nil
			}
			return ignore(c.run(ctx, tdb, bson.D{{Key: "dropIndexes", Value: tcoll}, {Key: "index", Value: index}}),
				codeIndexNotFound, codeNamespaceNotFound)
		})
	case "collMod":
		return c.onCollection(ctx, db, coll, func(tdb, tcoll string) error {
			return c.collMod(ctx, tdb, tcoll, elems)
		})
	case "convertToCapped":
		return c.onCollection(ctx, db, coll, func(tdb, tcoll string) error {
			cmd := bson.D{{Key: "convertToCapped", Value: tcoll}}
			for _, e := range elems[1:] {
				cmd = append(cmd, bson.E{Key: e.Key(), Value: e.Value()})
			}
			return c.run(ctx, tdb, cmd)
		})
	case "emptycapped":
		return c.onCollection(ctx, db, coll, func(tdb, tcoll string) error {
			if c.dry {
				return nil
			}
			_, err := c.client.Database(tdb).Collection(tcoll).DeleteMany(ctx, bson.D{})
			return err
		})
	}
	return false, unsupported
}

// onCollection runs fn with the target's names when db.coll is selected.
func (c *commands) onCollection(ctx context.Context, db, coll string, fn func(tdb, tcoll string) error) (bool, error) {
	if coll == "" {
		return false, fmt.Errorf("command on %s names no collection", db)
	}
	if Classify("c", db, coll, false) != User || !c.ns.Selected(db, coll) {
		return false, nil
	}
	tdb, tcoll := c.ns.Rename(db, coll)
	if err := fn(tdb, tcoll); err != nil {
		return false, fmt.Errorf("%s.%s: %w", db, coll, err)
	}
	return true, nil
}

func (c *commands) addSpecs(ns string, specs bson.RawArray) error {
	values, err := specs.Values()
	if err != nil {
		return err
	}
	for _, v := range values {
		doc, ok := v.DocumentOK()
		if !ok {
			return errors.New("index spec is not a document")
		}
		var spec bson.D
		if err := bson.Unmarshal(doc, &spec); err != nil {
			return err
		}
		c.indexes.add(ns, cleanSpec(spec))
	}
	return nil
}

// cleanSpec drops fields a createIndexes command need not carry: ns (≤4.2
// specs; servers reject it) and v, the index version: the target builds its
// own current version, as mongorestore does (FerretDB rejects any v).
func cleanSpec(spec bson.D) bson.D {
	out := spec[:0:0]
	for _, e := range spec {
		if e.Key == "ns" {
			continue
		}
		if e.Key == "v" {
			continue
		}
		out = append(out, e)
	}
	return out
}

// dropDatabase drops db on the target. With a namespace filter it drops only
// the selected collections, so that a partial restore never deletes what the
// user did not ask it to touch.
func (c *commands) dropDatabase(ctx context.Context, db string) (bool, error) {
	if db == "admin" || db == "config" || db == "local" || !c.ns.SelectedDB(db) {
		return false, nil
	}
	tdb := c.ns.RenameDB(db)
	c.indexes.dropDatabase(tdb)
	if c.dry {
		return true, nil
	}
	if len(c.ns.include) == 0 && len(c.ns.exclude) == 0 && len(c.ns.from) == 0 {
		return true, c.run(ctx, tdb, bson.D{{Key: "dropDatabase", Value: 1}})
	}
	names, err := c.client.Database(tdb).ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return false, fmt.Errorf("dropDatabase %s: list collections: %w", db, err)
	}
	for _, coll := range names {
		if c.ns.Selected(db, coll) {
			if err := ignore(c.run(ctx, tdb, bson.D{{Key: "drop", Value: coll}}), codeNamespaceNotFound); err != nil {
				return false, err
			}
		}
	}
	return true, nil
}

// rename applies renameCollection, also across databases and with dropTarget.
func (c *commands) rename(ctx context.Context, ts oplog.Timestamp, o bson.Raw) (bool, error) {
	from, _ := o.Lookup("renameCollection").StringValueOK()
	to, _ := o.Lookup("to").StringValueOK()
	if from == "" || to == "" {
		return false, fmt.Errorf("renameCollection at %s: missing renameCollection or to", ts)
	}
	fdb, fcoll := SplitNS(from)
	tdbSrc, tcollSrc := SplitNS(to)
	fromSel := Classify("c", fdb, fcoll, false) == User && c.ns.Selected(fdb, fcoll)
	toSel := Classify("c", tdbSrc, tcollSrc, false) == User && c.ns.Selected(tdbSrc, tcollSrc)
	switch {
	case !fromSel && !toSel:
		return false, nil
	case !fromSel:
		return false, &UnsupportedError{TS: ts, NS: from, What: fmt.Sprintf("renameCollection into the selected %s from the unselected %s (its data is not in the replay)", to, from)}
	}
	sdb, scoll := c.ns.Rename(fdb, fcoll)
	if !toSel {
		// The data leaves the selection: on the target it simply goes away.
		c.indexes.dropCollection(sdb + "." + scoll)
		return true, ignore(c.run(ctx, sdb, bson.D{{Key: "drop", Value: scoll}}), codeNamespaceNotFound)
	}
	ddb, dcoll := c.ns.Rename(tdbSrc, tcollSrc)
	// The rename always replaces an existing target. Where the source had
	// one, the entry says dropTarget; where it had none, the rename could not
	// have succeeded over one, so an existing target is a leftover of an
	// earlier replay of the same range, and replacing it keeps the replay
	// idempotent.
	const dropTarget = true
	c.indexes.rename(sdb+"."+scoll, ddb+"."+dcoll)
	cmd := bson.D{{Key: "renameCollection", Value: sdb + "." + scoll}, {Key: "to", Value: ddb + "." + dcoll}, {Key: "dropTarget", Value: dropTarget}}
	err := c.run(ctx, "admin", cmd)
	switch {
	case !isNotImplemented(err):
	case sdb != ddb:
		err = c.copyRename(ctx, sdb, scoll, ddb, dcoll, dropTarget)
	default:
		err = c.dropThenRename(ctx, sdb, scoll, dcoll)
	}
	var se mongo.ServerError
	if errors.As(err, &se) && se.HasErrorCode(codeNamespaceNotFound) {
		// Replayed twice: the source is already gone. Fine if the target exists.
		if ok, lerr := collectionExists(ctx, c.client, ddb, dcoll); lerr == nil && ok {
			return true, nil
		}
	}
	if err != nil {
		return false, fmt.Errorf("renameCollection %s to %s: %w", from, to, err)
	}
	return true, nil
}

// dropThenRename renames within a database on targets that do not take
// renameCollection's dropTarget (FerretDB): drop the target, then rename.
// A stop between the two leaves the source in place and the target gone,
// which replaying the entry again mends.
func (c *commands) dropThenRename(ctx context.Context, db, from, to string) error {
	// Like the server, fail on a missing source before touching the target:
	// replayed twice, the target already holds the renamed data.
	if err := c.sourceExists(ctx, db, from); err != nil {
		return err
	}
	if err := c.client.Database(db).Collection(to).Drop(ctx); err != nil {
		return err
	}
	return c.run(ctx, "admin", bson.D{{Key: "renameCollection", Value: db + "." + from}, {Key: "to", Value: db + "." + to}})
}

// sourceExists is nil when db.coll exists, the server's NamespaceNotFound
// error when it does not.
func (c *commands) sourceExists(ctx context.Context, db, coll string) error {
	ok, err := collectionExists(ctx, c.client, db, coll)
	if err != nil {
		return err
	}
	if !ok {
		return mongo.CommandError{Code: codeNamespaceNotFound, Message: "source namespace does not exist"}
	}
	return nil
}

// copyRename moves a collection to another database on targets that cannot
// rename across databases (FerretDB): copy the documents in batches, then
// drop the source. Index builds still pending move with the rename above.
func (c *commands) copyRename(ctx context.Context, sdb, scoll, ddb, dcoll string, dropTarget bool) error {
	src := c.client.Database(sdb).Collection(scoll)
	dst := c.client.Database(ddb).Collection(dcoll)
	// Like the server, fail on a missing source before touching the target.
	if err := c.sourceExists(ctx, sdb, scoll); err != nil {
		return err
	}
	if dropTarget {
		if err := dst.Drop(ctx); err != nil {
			return err
		}
	}
	cur, err := src.Find(ctx, bson.D{})
	if err != nil {
		return ignore(err, codeNamespaceNotFound)
	}
	defer cur.Close(ctx)
	batch := make([]any, 0, maxRunDocs)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		_, err := dst.InsertMany(ctx, batch, options.InsertMany().SetBypassDocumentValidation(true))
		batch = batch[:0]
		return err
	}
	for cur.Next(ctx) {
		batch = append(batch, bson.Raw(append([]byte(nil), cur.Current...)))
		if len(batch) == maxRunDocs {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := cur.Err(); err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	c.log.Info().Str("from", sdb+"."+scoll).Str("to", ddb+"."+dcoll).Msg("target cannot rename across databases: copied the documents and dropped the source")
	return src.Drop(ctx)
}

// isNotImplemented reports the server's "not implemented" (code 238).
func isNotImplemented(err error) bool {
	var se mongo.ServerError
	return errors.As(err, &se) && se.HasErrorCode(238)
}

// collMod changes a pending index's spec, or runs collMod on the target.
func (c *commands) collMod(ctx context.Context, tdb, tcoll string, elems []bson.RawElement) error {
	cmd := bson.D{{Key: "collMod", Value: tcoll}}
	for _, e := range elems[1:] {
		if e.Key() == "index" {
			if idx, ok := e.Value().DocumentOK(); ok {
				var set bson.D
				if err := bson.Unmarshal(idx, &set); err != nil {
					return err
				}
				name, _ := idx.Lookup("name").StringValueOK()
				opts := set[:0:0]
				for _, kv := range set {
					if kv.Key != "name" && kv.Key != "keyPattern" {
						opts = append(opts, kv)
					}
				}
				if name != "" && c.indexes.modify(tdb+"."+tcoll, name, opts) {
					continue
				}
			}
		}
		cmd = append(cmd, bson.E{Key: e.Key(), Value: e.Value()})
	}
	if len(cmd) == 1 {
		return nil // everything applied to pending indexes
	}
	return c.run(ctx, tdb, cmd)
}

// buildIndexes builds every pending index, after the data.
func (c *commands) buildIndexes(ctx context.Context) (int, error) {
	built := 0
	err := c.indexes.each(func(ns string, specs []bson.D) error {
		db, coll := SplitNS(ns)
		indexes := make(bson.A, 0, len(specs))
		for _, s := range specs {
			indexes = append(indexes, s)
		}
		if err := c.run(ctx, db, bson.D{{Key: "createIndexes", Value: coll}, {Key: "indexes", Value: indexes}}); err != nil {
			return fmt.Errorf("build indexes of %s after the data: %w", ns, err)
		}
		built += len(specs)
		c.log.Info().Str("ns", ns).Int("indexes", len(specs)).Msg("built indexes after the data")
		return nil
	})
	if err == nil {
		c.indexes = newPendingIndexes()
	}
	return built, err
}

func (c *commands) run(ctx context.Context, db string, cmd bson.D) error {
	if c.dry {
		return nil
	}
	return c.client.Database(db).RunCommand(ctx, cmd).Err()
}

// ignore turns the listed server error codes into success.
func ignore(err error, codes ...int) error {
	var se mongo.ServerError
	if errors.As(err, &se) {
		for _, code := range codes {
			if se.HasErrorCode(code) {
				return nil
			}
		}
	}
	return err
}
