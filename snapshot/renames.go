package snapshot

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tidelog/tidelog/oplog"
)

// ErrRenamed is matched (errors.Is) by the error of a Take during which a
// copied collection was renamed. A rename moves documents without logging
// them, so the copy may hold them under neither name (listed before the
// rename, read after it) or under both: replay cannot repair either. The
// snapshot is left incomplete; taking it again succeeds once no rename runs
// during the copy.
var ErrRenamed = errors.New("collection renamed during the snapshot")

// RenamedError names the rename that made a snapshot unusable.
type RenamedError struct {
	From, To string          // namespaces
	At       oplog.Timestamp // the rename's oplog entry
}

func (e *RenamedError) Error() string {
	return fmt.Sprintf("collection %s was renamed to %s at %s, during the copy: its documents may be missing from the snapshot or in it twice; take the snapshot again (renames, $out and convertToCapped rename collections)", e.From, e.To, e.At)
}

// Is makes errors.Is(err, ErrRenamed) true.
func (e *RenamedError) Is(target error) bool { return target == ErrRenamed }

// checkRenames reads the command entries in (start, end] and fails if a
// rename there may have moved documents the copy did not see where replay
// expects them:
//   - a rename from a listed collection: the copy may hold its documents
//     under neither name, or under both;
//   - a rename onto a listed collection from one that existed before start
//     (not created in the window): the copy holds the renamed documents
//     under the new name, and replay, creating the old name from the
//     window's writes and renaming it with dropTarget, would replace them
//     with those writes alone.
//
// Renames of collections created in the window ($out's temporary
// collections) are harmless: their documents are in the oplog. The check
// needs the server to still hold every entry after start.
func (s *source) checkRenames(ctx context.Context, start, end oplog.Timestamp, copied []Collection) error {
	if !start.Before(end) {
		return nil
	}
	filter := bson.D{
		{Key: "ts", Value: bson.D{{Key: "$gt", Value: start.BSON()}, {Key: "$lte", Value: end.BSON()}}},
		{Key: "op", Value: "c"},
	}
	cur, err := s.coll("local", "oplog.rs").Find(ctx, filter,
		options.Find().SetProjection(bson.D{{Key: "ts", Value: 1}, {Key: "ns", Value: 1}, {Key: "o", Value: 1}}))
	if err != nil {
		return fmt.Errorf("read the oplog's commands between %s and %s: %w", start, end, err)
	}
	defer cur.Close(ctx)
	var w window
	for cur.Next(ctx) {
		w.add(cur.Current)
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("read the oplog's commands between %s and %s: %w", start, end, err)
	}
	oldest, err := s.oldest(ctx)
	if err != nil {
		return err
	}
	if oldest.After(start) {
		return fmt.Errorf("the source's oplog no longer reaches back to the snapshot's start %s (its oldest entry is %s): renames during the copy cannot be ruled out; enlarge the oplog (replSetResizeOplog) so it outlasts a snapshot", start, oldest)
	}
	names := make(map[string]bool, len(copied))
	for _, c := range copied {
		names[c.NS] = true
	}
	return w.spoiled(names)
}

// window is what the commands of a snapshot's window create and rename.
type window struct {
	created map[string][]oplog.Timestamp // namespace: when a create made it
	renames []RenamedError
}

// add notes the creates and renames of one command entry, also those
// nested in its applyOps (which carry no ts of their own: the entry's).
func (w *window) add(entry bson.Raw) {
	ts, _ := oplog.EntryTS(entry)
	w.addOp(entry, ts)
}

func (w *window) addOp(op bson.Raw, at oplog.Timestamp) {
	o, ok := op.Lookup("o").DocumentOK()
	if !ok {
		return
	}
	if from, ok := o.Lookup("renameCollection").StringValueOK(); ok {
		to, _ := o.Lookup("to").StringValueOK()
		w.renames = append(w.renames, RenamedError{From: from, To: to, At: at})
	}
	if coll, ok := o.Lookup("create").StringValueOK(); ok {
		ns, _ := op.Lookup("ns").StringValueOK()
		db, _, _ := strings.Cut(ns, ".")
		if w.created == nil {
			w.created = map[string][]oplog.Timestamp{}
		}
		w.created[db+"."+coll] = append(w.created[db+"."+coll], at)
	}
	ops, ok := o.Lookup("applyOps").ArrayOK()
	if !ok {
		return
	}
	vals, err := ops.Values()
	if err != nil {
		return // a malformed applyOps is for replay to report, not a rename
	}
	for _, v := range vals {
		if inner, ok := v.DocumentOK(); ok {
			if kind, _ := inner.Lookup("op").StringValueOK(); kind == "c" {
				w.addOp(inner, at)
			}
		}
	}
}

// spoiled returns the first rename that makes the copy unusable, or nil.
func (w *window) spoiled(copied map[string]bool) error {
	for _, r := range w.renames {
		if copied[r.From] || copied[r.To] && !w.createdBefore(r.From, r.At) {
			e := r
			return &e
		}
	}
	return nil
}

// createdBefore reports whether ns was created in the window before at
// (at the same position too: an applyOps may create and rename at once).
func (w *window) createdBefore(ns string, at oplog.Timestamp) bool {
	for _, ts := range w.created[ns] {
		if !ts.After(at) {
			return true
		}
	}
	return false
}
