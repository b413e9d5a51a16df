// Package replay applies raw oplog entries to a target through the driver,
// batched and idempotent: replaying a range twice, or ranges that overlap,
// leaves the same data as replaying it once.
package replay

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tidelog/tidelog/oplog"
)

// Stats counts what an Applier did.
type Stats struct {
	Entries  uint64
	Inserts  uint64
	Updates  uint64
	Deletes  uint64
	Commands uint64
	NoOps    uint64
	// Skipped counts entries left out on purpose: outside the namespace
	// selection, server-internal namespaces, users/roles unless asked for,
	// migration copies on a cluster target.
	Skipped uint64
	// Unsupported counts entries skipped under --skip-unsupported (each one
	// is in the report file).
	Unsupported  uint64
	IndexesBuilt uint64
	Upserted     uint64 // inserts that found their _id present and replaced it (overlapping replay)
	// UpdateMisses counts updates whose document did not exist on the target.
	// Replaying from the start of capture onto an empty target this means the
	// document predates the capture: the restore cannot be exact, and says so.
	UpdateMisses uint64
	// Applied is the ts of the last entry written to the target.
	Applied oplog.Timestamp
}

// Options shape what an Applier writes.
type Options struct {
	// Namespaces selects and renames namespaces; the zero value takes all as they are.
	Namespaces Namespaces
	// IncludeUsers replays admin.system.users and admin.system.roles.
	IncludeUsers bool
	// ClusterTarget skips chunk-migration copies (fromMigrate), for restores
	// of a whole sharded cluster; see Migration.
	ClusterTarget bool
	// OnUnsupported, when set, is told of each entry the replayer cannot apply
	// and the replay goes on if it returns nil (--skip-unsupported writes
	// them to a report). When nil such an entry stops the replay.
	OnUnsupported func(*UnsupportedError) error
}

// Limits of one batched write: well under the 16 MiB message and 100k
// statement limits of MongoDB.
const (
	maxRunDocs  = 1000
	maxRunBytes = 8 << 20
)

// Applier applies entries in order. Consecutive inserts into one namespace
// become one insertMany, consecutive deletes one deleteMany; any other entry
// flushes the run first, so the target sees the oplog's order per document.
// Updates go one statement per command: multi-statement updates are
// pathologically slow on FerretDB and bring nothing on MongoDB that the
// parallel engine (replay fidelity work) will not do better.
type Applier struct {
	client *mongo.Client
	opts   Options
	log    zerolog.Logger
	stats  Stats
	cmds   *commands

	run     runKind
	runNS   string
	docs    []any // bson.Raw inserts
	ids     []any // bson.RawValue _ids to delete
	bytes   int
	runLast oplog.Timestamp
}

type runKind byte

const (
	runNone runKind = iota
	runInsert
	runDelete
)

// NewApplier returns an Applier writing through client.
func NewApplier(client *mongo.Client, opts Options, log zerolog.Logger) *Applier {
	return &Applier{client: client, opts: opts, log: log,
		cmds: &commands{client: client, ns: opts.Namespaces, indexes: newPendingIndexes(), log: log}}
}

// Stats returns the counts so far; Applied covers only flushed entries.
func (a *Applier) Stats() Stats { return a.stats }

// Apply applies (or batches) one raw oplog entry. The entry's bytes are
// copied when kept, so callers may reuse their buffer.
func (a *Applier) Apply(ctx context.Context, entry bson.Raw) error {
	ts, err := oplog.EntryTS(entry)
	if err != nil {
		return err
	}
	op, err := oplog.EntryOp(entry)
	if err != nil {
		return fmt.Errorf("entry %s: %w", ts, err)
	}
	a.stats.Entries++
	if op == "n" {
		a.stats.NoOps++
		return a.noteApplied(ts)
	}
	ns, err := oplog.EntryNS(entry)
	if err != nil {
		return fmt.Errorf("entry %s: %w", ts, err)
	}
	db, coll := SplitNS(ns)
	switch op {
	case "i", "u", "d":
		fromMigrate, _ := entry.Lookup("fromMigrate").BooleanOK()
		if !a.wanted(op, db, coll, fromMigrate) {
			a.stats.Skipped++
			return a.noteApplied(ts)
		}
		tdb, tcoll := a.opts.Namespaces.Rename(db, coll)
		tns := tdb + "." + tcoll
		switch op {
		case "i":
			return a.insert(ctx, ts, tns, entry)
		case "d":
			return a.delete(ctx, ts, tns, entry)
		}
		if err := a.Flush(ctx); err != nil {
			return err
		}
		if err := a.update(ctx, ts, tns, entry); err != nil {
			return a.unsupported(err, entry)
		}
		return a.noteApplied(ts)
	case "c":
		if err := a.Flush(ctx); err != nil {
			return err
		}
		o, ok := entry.Lookup("o").DocumentOK()
		if !ok {
			return fmt.Errorf("command at %s: o is not a document", ts)
		}
		applied, err := a.cmds.apply(ctx, ts, db, o)
		if err != nil {
			if err := a.unsupported(err, entry); err != nil {
				return err
			}
		} else if applied {
			a.stats.Commands++
		} else {
			a.stats.Skipped++
		}
		return a.noteApplied(ts)
	}
	return a.unsupported(&UnsupportedError{TS: ts, NS: ns, What: fmt.Sprintf("op %q", op)}, entry)
}

// knownCommands are the commands commands.apply handles.
var knownCommands = map[string]bool{
	"create": true, "drop": true, "dropDatabase": true, "renameCollection": true,
	"createIndexes": true, "commitIndexBuild": true, "startIndexBuild": true, "abortIndexBuild": true,
	"dropIndexes": true, "deleteIndexes": true, "collMod": true, "convertToCapped": true, "emptycapped": true,
}

// Check tells, without writing, which target namespace an entry would
// write ("" for none) and whether the replayer can apply it, so that a
// restore can refuse an occupied target or an unsupported entry before its
// first write.
func (a *Applier) Check(entry bson.Raw) (string, error) {
	ts, err := oplog.EntryTS(entry)
	if err != nil {
		return "", err
	}
	op, err := oplog.EntryOp(entry)
	if err != nil {
		return "", fmt.Errorf("entry %s: %w", ts, err)
	}
	if op == "n" {
		return "", nil
	}
	ns, err := oplog.EntryNS(entry)
	if err != nil {
		return "", fmt.Errorf("entry %s: %w", ts, err)
	}
	db, coll := SplitNS(ns)
	switch op {
	case "i", "u", "d":
		fromMigrate, _ := entry.Lookup("fromMigrate").BooleanOK()
		if !a.wanted(op, db, coll, fromMigrate) {
			return "", nil
		}
		tdb, tcoll := a.opts.Namespaces.Rename(db, coll)
		return tdb + "." + tcoll, nil
	case "c":
		o, ok := entry.Lookup("o").DocumentOK()
		if !ok {
			return "", fmt.Errorf("command at %s: o is not a document", ts)
		}
		elems, err := o.Elements()
		if err != nil || len(elems) == 0 {
			return "", fmt.Errorf("command at %s: o is not a command document", ts)
		}
		name := elems[0].Key()
		if !knownCommands[name] {
			return "", &UnsupportedError{TS: ts, NS: ns, What: "command " + name, Before: true}
		}
		target := ""
		if name == "create" || name == "renameCollection" {
			if name == "renameCollection" {
				to, _ := o.Lookup("to").StringValueOK()
				db, coll = SplitNS(to)
			} else {
				coll, _ = elems[0].Value().StringValueOK()
			}
			if Classify("c", db, coll, false) == User && a.opts.Namespaces.Selected(db, coll) {
				tdb, tcoll := a.opts.Namespaces.Rename(db, coll)
				target = tdb + "." + tcoll
			}
		}
		return target, nil
	}
	return "", &UnsupportedError{TS: ts, NS: ns, What: fmt.Sprintf("op %q", op), Before: true}
}

// wanted applies the namespace selection and the user-data rules.
func (a *Applier) wanted(op, db, coll string, fromMigrate bool) bool {
	switch Classify(op, db, coll, fromMigrate) {
	case User:
	case UsersAndRoles:
		if !a.opts.IncludeUsers {
			return false
		}
	case Migration:
		if a.opts.ClusterTarget {
			return false
		}
	default:
		return false
	}
	return a.opts.Namespaces.Selected(db, coll)
}

// unsupported passes an UnsupportedError to OnUnsupported (which may let the
// replay continue) and returns every other error as it is.
func (a *Applier) unsupported(err error, entry bson.Raw) error {
	var ue *UnsupportedError
	if !errors.As(err, &ue) || a.opts.OnUnsupported == nil {
		return err
	}
	ue.Entry = entry
	if herr := a.opts.OnUnsupported(ue); herr != nil {
		return herr
	}
	a.stats.Unsupported++
	return nil
}

// Finish flushes pending writes and builds the indexes deferred until after
// the data. Call it once, at the end of a replay.
func (a *Applier) Finish(ctx context.Context) error {
	if err := a.Flush(ctx); err != nil {
		return err
	}
	n, err := a.cmds.buildIndexes(ctx)
	a.stats.IndexesBuilt += uint64(n)
	return err
}

// noteApplied advances Applied when nothing is pending; with a run pending
// the run's flush will advance it.
func (a *Applier) noteApplied(ts oplog.Timestamp) error {
	if a.run == runNone {
		a.stats.Applied = ts
	} else {
		a.runLast = ts
	}
	return nil
}

func (a *Applier) insert(ctx context.Context, ts oplog.Timestamp, ns string, entry bson.Raw) error {
	doc, ok := entry.Lookup("o").DocumentOK()
	if !ok {
		return fmt.Errorf("insert %s at %s: o is not a document", ns, ts)
	}
	if err := a.join(ctx, runInsert, ns, len(doc)); err != nil {
		return err
	}
	a.docs = append(a.docs, bson.Raw(append([]byte(nil), doc...)))
	a.runLast = ts
	return nil
}

func (a *Applier) delete(ctx context.Context, ts oplog.Timestamp, ns string, entry bson.Raw) error {
	id, err := entry.LookupErr("o", "_id")
	if err != nil {
		return fmt.Errorf("delete %s at %s: o has no _id", ns, ts)
	}
	if err := a.join(ctx, runDelete, ns, len(id.Value)); err != nil {
		return err
	}
	a.ids = append(a.ids, bson.RawValue{Type: id.Type, Value: append([]byte(nil), id.Value...)})
	a.runLast = ts
	return nil
}

// join flushes the pending run unless the next entry can extend it.
func (a *Applier) join(ctx context.Context, kind runKind, ns string, size int) error {
	if a.run != kind || a.runNS != ns || len(a.docs)+len(a.ids) >= maxRunDocs || a.bytes+size > maxRunBytes {
		if err := a.Flush(ctx); err != nil {
			return err
		}
	}
	a.run, a.runNS = kind, ns
	a.bytes += size
	return nil
}

// Flush writes the pending run, if any.
func (a *Applier) Flush(ctx context.Context) error {
	var err error
	switch a.run {
	case runInsert:
		err = a.flushInserts(ctx)
	case runDelete:
		err = a.flushDeletes(ctx)
	}
	if err != nil {
		return err
	}
	if a.run != runNone {
		a.stats.Applied = a.runLast
	}
	a.run, a.runNS, a.docs, a.ids, a.bytes = runNone, "", a.docs[:0], a.ids[:0], 0
	return nil
}

func (a *Applier) flushInserts(ctx context.Context) error {
	coll := a.collection(a.runNS)
	_, err := coll.InsertMany(ctx, a.docs, options.InsertMany().SetOrdered(false))
	if err == nil {
		a.stats.Inserts += uint64(len(a.docs))
		return nil
	}
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || bwe.WriteConcernError != nil {
		return fmt.Errorf("insert %d documents into %s: %w", len(a.docs), a.runNS, err)
	}
	// The target already holds some _ids (an overlapping replay): the oplog
	// says the document is the inserted one, so replace it, in oplog order.
	dup := make([]int, 0, len(bwe.WriteErrors))
	for _, we := range bwe.WriteErrors {
		if we.Code != 11000 {
			return fmt.Errorf("insert into %s: %w", a.runNS, err)
		}
		dup = append(dup, we.Index)
	}
	a.stats.Inserts += uint64(len(a.docs) - len(dup))
	for _, i := range sortedInts(dup) {
		doc := a.docs[i].(bson.Raw)
		id := doc.Lookup("_id")
		if _, err := coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}}, doc, options.Replace().SetUpsert(true)); err != nil {
			return fmt.Errorf("replace existing _id %s in %s: %w", id, a.runNS, err)
		}
		a.stats.Inserts++
		a.stats.Upserted++
	}
	return nil
}

func (a *Applier) flushDeletes(ctx context.Context) error {
	filter := bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: a.ids}}}}
	if _, err := a.collection(a.runNS).DeleteMany(ctx, filter); err != nil {
		return fmt.Errorf("delete %d documents from %s: %w", len(a.ids), a.runNS, err)
	}
	a.stats.Deletes += uint64(len(a.ids))
	return nil
}

// update applies a "u" entry: o2 selects the document, o is either a $v:1
// modifier document ($set, $unset, …) or a whole replacement.
func (a *Applier) update(ctx context.Context, ts oplog.Timestamp, ns string, entry bson.Raw) error {
	o, ok := entry.Lookup("o").DocumentOK()
	if !ok {
		return fmt.Errorf("update %s at %s: o is not a document", ns, ts)
	}
	o2, ok := entry.Lookup("o2").DocumentOK()
	if !ok {
		return fmt.Errorf("update %s at %s: o2 (the document's _id) is missing", ns, ts)
	}
	elems, err := o.Elements()
	if err != nil {
		return fmt.Errorf("update %s at %s: %w", ns, ts, err)
	}
	modifier := false
	update := make(bson.D, 0, len(elems))
	for _, e := range elems {
		key := e.Key()
		if key == "$v" {
			if v, ok := e.Value().AsInt64OK(); ok && v != 1 {
				return &UnsupportedError{TS: ts, NS: ns, What: fmt.Sprintf("update format $v:%d (delta updates)", v)}
			}
			modifier = true
			continue
		}
		if key == "diff" {
			return &UnsupportedError{TS: ts, NS: ns, What: "update format $v:2 (delta updates)"}
		}
		if strings.HasPrefix(key, "$") {
			modifier = true
		}
		update = append(update, bson.E{Key: key, Value: e.Value()})
	}
	coll := a.collection(ns)
	var res *mongo.UpdateResult
	if modifier {
		res, err = coll.UpdateOne(ctx, o2, update)
	} else {
		// A replacement states the whole document: upserting it is exact even
		// when the document is missing.
		res, err = coll.ReplaceOne(ctx, o2, o, options.Replace().SetUpsert(true))
	}
	if err != nil {
		return fmt.Errorf("update %s at %s: %w", ns, ts, err)
	}
	a.stats.Updates++
	if res.MatchedCount == 0 && res.UpsertedCount == 0 {
		a.stats.UpdateMisses++
		a.log.Warn().Str("ns", ns).Stringer("ts", ts).Str("o2", o2.String()).
			Msg("update found no document on the target: it existed before capture began, so this restore cannot reproduce it exactly")
	}
	return nil
}

func (a *Applier) collection(ns string) *mongo.Collection {
	db, coll, _ := strings.Cut(ns, ".")
	return a.client.Database(db).Collection(coll)
}

func sortedInts(v []int) []int {
	for i := 1; i < len(v); i++ {
		for j := i; j > 0 && v[j] < v[j-1]; j-- {
			v[j], v[j-1] = v[j-1], v[j]
		}
	}
	return v
}

// UnsupportedError stops a replay at an entry tidelog cannot apply yet. The
// replay never skips it silently.
type UnsupportedError struct {
	TS   oplog.Timestamp
	NS   string
	What string
	// Before: found while checking, before anything was written.
	Before bool
	// Entry is the entry itself, for the --skip-unsupported report.
	Entry bson.Raw
}

func (e *UnsupportedError) Error() string {
	done := fmt.Sprintf("the replay stopped at it (entries before %s were applied)", e.TS)
	if e.Before {
		done = "nothing was written to the target"
	}
	return fmt.Sprintf("oplog entry %s on %s: %s is not supported by this version of the replayer; %s; "+
		"restore to a position before %s, or upgrade tidelog", e.TS, e.NS, e.What, done, e.TS)
}
