package replay

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"
	"sync/atomic"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/replay/modifier"
)

// writeStyle is how a partition's final documents reach the target. Either
// way document validation is bypassed, as a secondary applying the oplog
// does: the source already validated these writes, and a validator on the
// target (from the base or a collMod) must not stop their replay.
type writeStyle int

const (
	// styleReplace: one unordered bulk write of ReplaceOne(upsert) and
	// DeleteOne per document: one round trip, and each document is replaced
	// atomically. For MongoDB.
	styleReplace writeStyle = iota
	// styleDeleteInsert: deleteMany by _id, then insertMany. Two round trips
	// whatever the batch size. For FerretDB, where a multi-statement update
	// command is pathologically slow (50 statements: over a minute).
	styleDeleteInsert
)

// writer computes and writes the outcome of a partition's entries. It is
// shared by the partitions of a batch, so its counters are atomic.
type writer struct {
	client *mongo.Client
	log    zerolog.Logger
	diff   func(pre, o bson.Raw) (bson.Raw, error) // $v:2 updates; nil: unsupported

	styleMu    sync.Mutex
	style      writeStyle
	styleKnown bool

	// The journal (styleDeleteInsert; see journal.go): after is the resume
	// point a failure of the batch being written reports, journaled says
	// the batch wrote entries. noJournal leaves it out (Options.NoJournal).
	after     oplog.Timestamp
	journaled atomic.Bool
	noJournal bool

	inserts, updates, deletes, misses, upserted atomic.Uint64

	unsupportedMu sync.Mutex
	onUnsupported func(err error, entry bson.Raw) error
}

// resolveStyle asks the target what it is, until it has an answer. A
// failure is returned, not taken for MongoDB: on FerretDB that guess
// would skip the journal a resumed replay must put back (journal.go).
func (w *writer) resolveStyle(ctx context.Context) (writeStyle, error) {
	w.styleMu.Lock()
	defer w.styleMu.Unlock()
	if !w.styleKnown {
		var info bson.Raw
		if err := w.client.Database("admin").RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
			return 0, fmt.Errorf("ask the target what server it is (buildInfo): %w", err)
		}
		if _, ferret := info.LookupErr("ferretdbVersion"); ferret == nil {
			w.style = styleDeleteInsert
		}
		w.styleKnown = true
	}
	return w.style, nil
}

// parallelism is how many partitions a batch is written in. Replay waits on
// round trips to the target, not on CPU, so MongoDB gets more partitions
// than there are cores. FerretDB over SQLite has a single writer and pays a
// collection scan per statement, so there fewer, larger partitions win.
func (s writeStyle) parallelism() int {
	if s == styleDeleteInsert {
		return 2
	}
	return 8
}

// docState is what a partition knows of one document while simulating.
type docState struct {
	id      bson.RawValue
	doc     bson.Raw // current version when exists
	pre     bson.Raw // the target's version, when fetched and found
	exists  bool
	fetched bool // state came from the target (may exist there: must be overwritten or deleted)
	first   byte // first op seen in the batch
	// changed: an entry set the document's fate (insert, delete, applied
	// update). A document only missed by updates is left as it is on the
	// target: writing it would delete what the batch never saw.
	changed bool
}

// writePartition applies ops (one partition, oplog order) namespace by namespace.
func (w *writer) writePartition(ctx context.Context, ops []crudOp) error {
	byNS := map[string][]crudOp{}
	var order []string
	for _, op := range ops {
		if _, ok := byNS[op.ns]; !ok {
			order = append(order, op.ns)
		}
		byNS[op.ns] = append(byNS[op.ns], op)
	}
	for _, ns := range order {
		if err := w.writeNS(ctx, ns, byNS[ns]); err != nil {
			return err
		}
	}
	return nil
}

// writeNS computes every touched document's final version in Go — starting
// from the target's current version, fetched in one query, for documents
// the batch only updates — and writes the results. Applying the entries in
// order to each document's state is exactly what the server would do, so
// the outcome is exact, and idempotent over overlapping ranges.
func (w *writer) writeNS(ctx context.Context, ns string, ops []crudOp) error {
	states := map[string]*docState{}
	var order []*docState
	var fetch bson.A
	for _, op := range ops {
		k := idKey(op.id)
		if _, ok := states[k]; ok {
			continue
		}
		st := &docState{id: op.id, first: op.op}
		states[k] = st
		order = append(order, st)
		if op.op == 'u' {
			fetch = append(fetch, op.id)
		}
	}
	coll := w.collection(ns)
	if err := w.fetch(ctx, coll, fetch, states); err != nil {
		return fmt.Errorf("read current documents of %s: %w", ns, err)
	}
	for _, op := range ops {
		if err := w.simulate(states[idKey(op.id)], op); err != nil {
			return err
		}
	}
	style, err := w.resolveStyle(ctx)
	if err != nil {
		return err
	}
	if style == styleDeleteInsert {
		if err := w.journalPreimages(ctx, ns, order); err != nil {
			return err
		}
		return w.deleteInsert(ctx, coll, ns, order)
	}
	return w.bulkReplace(ctx, coll, ns, order)
}

func (w *writer) fetch(ctx context.Context, coll *mongo.Collection, ids bson.A, states map[string]*docState) error {
	for chunk := range idChunks(ids) {
		cur, err := coll.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: chunk}}}})
		if err != nil {
			return err
		}
		for cur.Next(ctx) {
			id := cur.Current.Lookup("_id")
			st, ok := states[idKey(id)]
			if !ok {
				// $in matched by value (1 and 1.0 are equal to the server) an _id
				// whose bytes no entry names: which entry it belongs to cannot be
				// told, and guessing could overwrite or lose the document.
				cur.Close(ctx)
				return fmt.Errorf("the target's document _id %s matches an updated _id only by numeric equality, not by type; the replay cannot tell them apart", id)
			}
			st.doc, st.exists = append(bson.Raw(nil), cur.Current...), true
			st.pre = st.doc
		}
		err = cur.Err()
		cur.Close(ctx)
		if err != nil {
			return err
		}
	}
	for _, id := range ids {
		states[idKey(id.(bson.RawValue))].fetched = true
	}
	return nil
}

// simulate applies one op to a document's state.
func (w *writer) simulate(st *docState, op crudOp) error {
	switch op.op {
	case 'i':
		o, ok := op.entry.Lookup("o").DocumentOK()
		if !ok {
			return fmt.Errorf("insert %s at %s: o is not a document", op.ns, op.ts)
		}
		if st.exists && !st.fetched {
			w.upserted.Add(1)
		}
		st.doc, st.exists, st.changed = o, true, true
		w.inserts.Add(1)
	case 'd':
		st.doc, st.exists, st.changed = nil, false, true
		w.deletes.Add(1)
	case 'u':
		next, err := w.update(st, op)
		if err != nil {
			var ue *UnsupportedError
			if errors.As(err, &ue) && w.onUnsupported != nil {
				w.unsupportedMu.Lock()
				defer w.unsupportedMu.Unlock()
				return w.onUnsupported(err, op.entry)
			}
			return err
		}
		if next != nil {
			st.doc, st.exists, st.changed = next, true, true
		}
		w.updates.Add(1)
	}
	return nil
}

// update computes the new version of a document for a "u" entry; nil when
// the document does not exist and the entry cannot create it (a miss).
func (w *writer) update(st *docState, op crudOp) (bson.Raw, error) {
	o, ok := op.entry.Lookup("o").DocumentOK()
	if !ok {
		return nil, fmt.Errorf("update %s at %s: o is not a document", op.ns, op.ts)
	}
	form, err := updateForm(o)
	if err != nil {
		return nil, &UnsupportedError{TS: op.ts, NS: op.ns, What: err.Error()}
	}
	if form == formReplacement {
		// A replacement states the whole document: exact even when missing.
		return withID(o, st.id)
	}
	if !st.exists {
		w.misses.Add(1)
		w.log.Warn().Str("ns", op.ns).Stringer("ts", op.ts).Str("_id", st.id.String()).
			Msg("update found no document on the target: it existed before capture began, so this restore cannot reproduce it exactly")
		return nil, nil
	}
	switch form {
	case formDiff:
		if w.diff == nil {
			return nil, &UnsupportedError{TS: op.ts, NS: op.ns, What: "update format $v:2 (delta updates)"}
		}
		next, err := w.diff(st.doc, o)
		if err != nil {
			return nil, fmt.Errorf("update %s at %s: %w", op.ns, op.ts, err)
		}
		return next, nil
	default:
		var doc bson.D
		if err := bson.Unmarshal(st.doc, &doc); err != nil {
			return nil, fmt.Errorf("update %s at %s: decode current document: %w", op.ns, op.ts, err)
		}
		doc, err = modifier.Apply(doc, o)
		if errors.Is(err, modifier.ErrUnsupported) {
			return nil, &UnsupportedError{TS: op.ts, NS: op.ns, What: err.Error()}
		}
		if err != nil {
			return nil, fmt.Errorf("update %s at %s: %w", op.ns, op.ts, err)
		}
		return bson.Marshal(doc)
	}
}

type updateFormKind int

const (
	formReplacement updateFormKind = iota
	formModifier
	formDiff
)

// updateForm tells the three shapes of a "u" entry's o apart.
func updateForm(o bson.Raw) (updateFormKind, error) {
	if v, err := o.LookupErr("$v"); err == nil {
		// Exact: AsInt64 would truncate a double ($v:2.5 read as 2).
		n, ok := v.AsInt64OK()
		if f, isDouble := v.DoubleOK(); isDouble && f != float64(n) {
			ok = false
		}
		switch {
		case ok && n == 2:
			return formDiff, nil
		case ok && n == 1:
			return formModifier, nil
		}
		return 0, fmt.Errorf("update format $v:%s", v)
	}
	// Without $v, a field named "diff" is a replacement document's field:
	// servers write every delta update with $v:2.
	mod, err := modifier.IsModifier(o)
	if err != nil {
		return 0, err
	}
	if mod {
		return formModifier, nil
	}
	return formReplacement, nil
}

// withID returns o with _id first, taken from the entry's document key when o lacks it.
func withID(o bson.Raw, id bson.RawValue) (bson.Raw, error) {
	if _, err := o.LookupErr("_id"); err == nil {
		return o, nil
	}
	var d bson.D
	if err := bson.Unmarshal(o, &d); err != nil {
		return nil, err
	}
	return bson.Marshal(append(bson.D{{Key: "_id", Value: id}}, d...))
}

// deleteInsert writes with deleteMany + insertMany; the documents it
// deletes that existed are in the journal first (journalPreimages), since
// a cut between the two writes leaves them absent. Documents first seen
// as inserts that still exist are not deleted first (on an empty target
// nothing is there);
// if one exists after all (an overlapping replay), the duplicate-key error
// sends it through delete and insert again.
func (w *writer) deleteInsert(ctx context.Context, coll *mongo.Collection, ns string, docs []*docState) error {
	var del bson.A
	var ins []any
	insID := map[int]*docState{}
	for _, st := range docs {
		if !st.changed {
			continue
		}
		if st.first != 'i' || !st.exists {
			del = append(del, st.id)
		}
		if st.exists {
			insID[len(ins)] = st
			ins = append(ins, st.doc)
		}
	}
	if err := deleteIDs(ctx, coll, del); err != nil {
		return fmt.Errorf("write %s: %w", ns, err)
	}
	if len(ins) == 0 {
		return nil
	}
	_, err := coll.InsertMany(ctx, ins, options.InsertMany().SetOrdered(false).SetBypassDocumentValidation(true))
	var bwe mongo.BulkWriteException
	if err == nil || !errors.As(err, &bwe) || bwe.WriteConcernError != nil {
		if err != nil {
			return fmt.Errorf("write %s: %w", ns, err)
		}
		return nil
	}
	var redo bson.A
	var again []any
	for _, we := range bwe.WriteErrors {
		if we.Code != 11000 {
			return fmt.Errorf("write %s: %w", ns, err)
		}
		st := insID[we.Index]
		redo, again = append(redo, st.id), append(again, st.doc)
		w.upserted.Add(1)
	}
	if err := deleteIDs(ctx, coll, redo); err != nil {
		return fmt.Errorf("write %s: %w", ns, err)
	}
	if _, err := coll.InsertMany(ctx, again, options.InsertMany().SetOrdered(false).SetBypassDocumentValidation(true)); err != nil {
		return fmt.Errorf("write %s: %w", ns, err)
	}
	return nil
}

// In-list limits: FerretDB scans the collection once per $in query, so the
// lists are long; the byte bound keeps a query well under 16 MiB whatever
// the _id values are.
const (
	maxInIDs   = 20000
	maxInBytes = 4 << 20
)

// idChunks splits ids into $in lists within maxInIDs and maxInBytes.
func idChunks(ids bson.A) iter.Seq[bson.A] {
	return func(yield func(bson.A) bool) {
		start, size := 0, 0
		for i, id := range ids {
			n := 64 // a guess for values that are not raw
			if v, ok := id.(bson.RawValue); ok {
				n = len(v.Value) + 8
			}
			if i > start && (i-start == maxInIDs || size+n > maxInBytes) {
				if !yield(ids[start:i]) {
					return
				}
				start, size = i, 0
			}
			size += n
		}
		if start < len(ids) {
			yield(ids[start:])
		}
	}
}

func deleteIDs(ctx context.Context, coll *mongo.Collection, ids bson.A) error {
	for chunk := range idChunks(ids) {
		if _, err := coll.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: chunk}}}}); err != nil {
			return err
		}
	}
	return nil
}

// bulkReplace writes each document with ReplaceOne(upsert) or DeleteOne in
// unordered bulk writes.
func (w *writer) bulkReplace(ctx context.Context, coll *mongo.Collection, ns string, docs []*docState) error {
	models := make([]mongo.WriteModel, 0, len(docs))
	flush := func() error {
		if len(models) == 0 {
			return nil
		}
		_, err := coll.BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false).SetBypassDocumentValidation(true))
		models = models[:0]
		return err
	}
	for _, st := range docs {
		if !st.changed {
			continue
		}
		filter := bson.D{{Key: "_id", Value: st.id}}
		if st.exists {
			models = append(models, mongo.NewReplaceOneModel().SetFilter(filter).SetReplacement(st.doc).SetUpsert(true))
		} else {
			models = append(models, mongo.NewDeleteOneModel().SetFilter(filter))
		}
		if len(models) == maxRunDocs {
			if err := flush(); err != nil {
				return fmt.Errorf("write %s: %w", ns, err)
			}
		}
	}
	if err := flush(); err != nil {
		return fmt.Errorf("write %s: %w", ns, err)
	}
	return nil
}

func (w *writer) collection(ns string) *mongo.Collection {
	db, coll := SplitNS(ns)
	return w.client.Database(db).Collection(coll)
}
