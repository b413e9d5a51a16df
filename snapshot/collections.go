package snapshot

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tidelog/tidelog/replay"
)

// listCollections returns every namespace the snapshot copies, sorted by
// namespace, with type, options and indexes, and no files yet.
//
// What is copied is what a replay writes: replay.Classify's user data
// (plus users and roles on request), so that a snapshot and the oplog
// replayed over it agree on every namespace. The local and config databases
// are never user data. system.views is the one user-data collection not
// copied as documents: its documents are the view definitions, which are
// recorded as collections of type view from listCollections instead.
func (s *source) listCollections(ctx context.Context, includeUsers bool) ([]Collection, error) {
	// authorizedDatabases false: a user without the listDatabases privilege
	// gets an error, not a silently shorter list (MongoDB 4.0.6+ would
	// otherwise return only the databases it can read, and the snapshot
	// would lack the others without a word).
	dbs, err := s.client.ListDatabaseNames(ctx, bson.D{}, options.ListDatabases().SetAuthorizedDatabases(false))
	if err != nil {
		return nil, fmt.Errorf("list databases: %w", err)
	}
	slices.Sort(dbs)
	var out []Collection
	for _, db := range dbs {
		if db == "local" || db == "config" {
			continue
		}
		cs, err := s.listDatabase(ctx, db, includeUsers)
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	return out, nil
}

// copied tells whether collection coll of db belongs in the snapshot.
func copied(db, coll string, includeUsers bool) bool {
	if coll == "system.views" {
		return false
	}
	switch replay.Classify("i", db, coll, false) {
	case replay.User:
		return true
	case replay.UsersAndRoles:
		return includeUsers
	}
	return false
}

// listDatabase lists the copied collections of one database.
func (s *source) listDatabase(ctx context.Context, db string, includeUsers bool) ([]Collection, error) {
	cur, err := s.client.Database(db).ListCollections(ctx, bson.D{})
	if err != nil {
		return nil, fmt.Errorf("list collections of %s: %w", db, err)
	}
	defer cur.Close(ctx)
	var out []Collection
	for cur.Next(ctx) {
		c, ok, err := collectionFromInfo(db, cur.Current, includeUsers)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, c)
		}
	}
	if err := cur.Err(); err != nil {
		return nil, fmt.Errorf("list collections of %s: %w", db, err)
	}
	slices.SortFunc(out, func(a, b Collection) int { return strings.Compare(a.NS, b.NS) })
	for i := range out {
		if out[i].Type == TypeView {
			continue // a view has no indexes of its own; listIndexes fails on one
		}
		if out[i].Indexes, err = s.listIndexes(ctx, db, out[i].Name()); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// collectionFromInfo reads one listCollections result. ok is false for a
// collection the snapshot does not copy. An unknown type is an error:
// skipping it could silently leave data out of the snapshot.
func collectionFromInfo(db string, info bson.Raw, includeUsers bool) (c Collection, ok bool, err error) {
	name, isStr := info.Lookup("name").StringValueOK()
	if !isStr || name == "" {
		return Collection{}, false, fmt.Errorf("list collections of %s: a result without a name: %s", db, info)
	}
	if !copied(db, name, includeUsers) {
		return Collection{}, false, nil
	}
	c = Collection{NS: db + "." + name, Type: TypeCollection, Options: emptyDoc()}
	if v, err := info.LookupErr("type"); err == nil { // servers before 3.4 give no type
		if c.Type, isStr = v.StringValueOK(); !isStr {
			return Collection{}, false, fmt.Errorf("collection %s: type is %s, not a string", c.NS, v.Type)
		}
	}
	switch c.Type {
	case TypeCollection, TypeView, TypeTimeseries:
	default:
		return Collection{}, false, fmt.Errorf("collection %s has type %q, which this tidelog cannot snapshot", c.NS, c.Type)
	}
	if v, err := info.LookupErr("options"); err == nil {
		doc, isDoc := v.DocumentOK()
		if !isDoc {
			return Collection{}, false, fmt.Errorf("collection %s: options is %s, not a document", c.NS, v.Type)
		}
		c.Options = slices.Clone(doc)
	}
	if sub, data, isBin := info.Lookup("info", "uuid").BinaryOK(); isBin && sub == 4 && len(data) == 16 {
		c.UUID = hex.EncodeToString(data)
	}
	return c, true, nil
}

// emptyDoc returns a new empty BSON document.
func emptyDoc() bson.Raw { return bson.Raw{5, 0, 0, 0, 0} }

// listIndexes returns coll's index specs without "v" and "ns": the index
// version belongs to the server that builds the index, and "ns" (servers
// before 4.4) would name the source namespace even when a restore renames it.
func (s *source) listIndexes(ctx context.Context, db, coll string) ([]bson.Raw, error) {
	cur, err := s.client.Database(db).Collection(coll).Indexes().List(ctx)
	if isNamespaceNotFound(err) {
		return nil, nil // dropped since it was listed; replay drops it too
	}
	if err != nil {
		return nil, fmt.Errorf("list indexes of %s.%s: %w", db, coll, err)
	}
	defer cur.Close(ctx)
	var specs []bson.Raw
	for cur.Next(ctx) {
		spec, err := withoutKeys(cur.Current, "v", "ns")
		if err != nil {
			return nil, fmt.Errorf("list indexes of %s.%s: %w", db, coll, err)
		}
		specs = append(specs, spec)
	}
	if err := cur.Err(); err != nil {
		return nil, fmt.Errorf("list indexes of %s.%s: %w", db, coll, err)
	}
	return specs, nil
}

// withoutKeys returns a copy of doc without the top-level fields drop,
// keeping every other field's bytes, and so its type, as they were.
func withoutKeys(doc bson.Raw, drop ...string) (bson.Raw, error) {
	elems, err := doc.Elements()
	if err != nil {
		return nil, err
	}
	out := make([]byte, 4, len(doc))
	for _, e := range elems {
		if !slices.Contains(drop, e.Key()) {
			out = append(out, e...)
		}
	}
	out = append(out, 0)
	binary.LittleEndian.PutUint32(out, uint32(len(out)))
	return out, nil
}
