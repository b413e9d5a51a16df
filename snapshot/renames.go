package snapshot

import (
	"context"
	"errors"
	"fmt"

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

// checkRenames reads the command entries in (start, end] and fails if one
// renames a collection the snapshot listed. Renames of collections created
// after the listing are harmless: their documents are in the oplog, which
// replay applies from Start.
func (s *source) checkRenames(ctx context.Context, start, end oplog.Timestamp, copied []Collection) error {
	if !start.Before(end) {
		return nil
	}
	filter := bson.D{
		{Key: "ts", Value: bson.D{{Key: "$gt", Value: start.BSON()}, {Key: "$lte", Value: end.BSON()}}},
		{Key: "op", Value: "c"},
	}
	cur, err := s.coll("local", "oplog.rs").Find(ctx, filter,
		options.Find().SetProjection(bson.D{{Key: "ts", Value: 1}, {Key: "o", Value: 1}}))
	if err != nil {
		return fmt.Errorf("read the oplog's commands between %s and %s: %w", start, end, err)
	}
	defer cur.Close(ctx)
	names := make(map[string]bool, len(copied))
	for _, c := range copied {
		names[c.NS] = true
	}
	for cur.Next(ctx) {
		if err := renameOf(cur.Current, names); err != nil {
			return err
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("read the oplog's commands between %s and %s: %w", start, end, err)
	}
	return nil
}

// renameOf returns a *RenamedError if the command entry (or an operation
// nested in its applyOps) renames one of the namespaces in copied.
func renameOf(entry bson.Raw, copied map[string]bool) error {
	ts, _ := oplog.EntryTS(entry)
	o, ok := entry.Lookup("o").DocumentOK()
	if !ok {
		return nil
	}
	return renameIn(o, ts, copied)
}

// renameIn looks at one command's o document; at is the ts of the oplog
// entry it came in (nested applyOps operations carry none of their own).
func renameIn(o bson.Raw, at oplog.Timestamp, copied map[string]bool) error {
	if from, ok := o.Lookup("renameCollection").StringValueOK(); ok && copied[from] {
		to, _ := o.Lookup("to").StringValueOK()
		return &RenamedError{From: from, To: to, At: at}
	}
	ops, ok := o.Lookup("applyOps").ArrayOK()
	if !ok {
		return nil
	}
	vals, err := ops.Values()
	if err != nil {
		return nil // a malformed applyOps is for replay to report, not a rename
	}
	for _, v := range vals {
		inner, ok := v.DocumentOK()
		if !ok {
			continue
		}
		if op, _ := inner.Lookup("op").StringValueOK(); op != "c" {
			continue
		}
		if io, ok := inner.Lookup("o").DocumentOK(); ok {
			if err := renameIn(io, at, copied); err != nil {
				return err
			}
		}
	}
	return nil
}
