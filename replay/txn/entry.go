package txn

import (
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/oplog"
)

// entryKind is what an oplog entry means to the Buffer.
type entryKind uint8

const (
	plainEntry    entryKind = iota // anything that is applied as it is
	applyOpsEntry                  // o.applyOps: a transaction part, a batched or vectored write, a user applyOps
	commitEntry                    // o.commitTransaction (prepared transactions only)
	abortEntry                     // o.abortTransaction (prepared transactions only)
)

// maxNesting bounds applyOps inside applyOps. The server does not nest them;
// user applyOps commands can, and this keeps hostile input from recursing
// deeply.
const maxNesting = 8

// entry is the part of an oplog entry the Buffer routes on. Its slices point
// into the caller's bytes.
type entry struct {
	raw  bson.Raw
	ts   oplog.Timestamp
	kind entryKind

	// The session, when the entry has both lsid (a document) and txnNumber.
	session bool
	id      ID

	// prev is prevOpTime.ts; zero when prevOpTime is absent (4.0) or the
	// empty OpTime {ts: Timestamp(0, 0), t: -1} that marks a first entry.
	prev oplog.Timestamp

	// applyOps entries.
	partial  bool       // o.partialTxn: more entries of this transaction follow
	prepare  bool       // o.prepare: the transaction is prepared, commit or abort follows
	count    int64      // o.count, when hasCount: operations in the whole transaction
	hasCount bool       //
	separate bool       // multiOpType 1: applied on its own, not a transaction
	top      int        // operations in o.applyOps (what count counts)
	ops      []bson.Raw // o.applyOps flattened (nested applyOps expanded), in order

	// commitEntry.
	commitTS oplog.Timestamp
}

// parseEntry reads what routing needs and validates everything the Buffer
// will later copy, so that a transaction either fails at the entry that
// carries the problem or applies whole.
func parseEntry(raw bson.Raw) (entry, error) {
	e := entry{raw: raw}
	ts, err := oplog.EntryTS(raw)
	if err != nil {
		return e, malformed(oplog.Timestamp{}, err, "cannot read ts")
	}
	e.ts = ts
	op, err := oplog.EntryOp(raw)
	if err != nil {
		return e, malformed(ts, err, "cannot read op")
	}
	if op != "c" {
		return e, nil
	}
	o, ok := raw.Lookup("o").DocumentOK()
	if !ok {
		return e, malformed(ts, nil, "command entry without an o document")
	}
	first, err := o.IndexErr(0)
	if err != nil {
		return e, malformed(ts, err, "command entry with an empty or unreadable o")
	}
	switch first.Key() {
	case "applyOps":
		e.kind = applyOpsEntry
	case "commitTransaction":
		e.kind = commitEntry
	case "abortTransaction":
		e.kind = abortEntry
	default:
		return e, nil // another command: the applier's business
	}
	// From here on the Buffer copies parts of the entry: check all of it once,
	// so that a transaction cannot fail halfway through its operations.
	if err := validateDeep(raw, 0); err != nil {
		return e, malformed(ts, err, "invalid BSON")
	}
	if err := e.readSession(); err != nil {
		return e, err
	}
	switch e.kind {
	case applyOpsEntry:
		return e, e.readApplyOps(o)
	case commitEntry:
		if !e.session {
			return e, malformed(ts, nil, "commitTransaction without lsid and txnNumber")
		}
		t, i, ok := o.Lookup("commitTimestamp").TimestampOK()
		if !ok {
			return e, malformed(ts, nil, "commitTransaction without a commitTimestamp timestamp")
		}
		e.commitTS = oplog.Timestamp{T: t, I: i}
	case abortEntry:
		if !e.session {
			return e, malformed(ts, nil, "abortTransaction without lsid and txnNumber")
		}
	}
	return e, nil
}

// endsTransaction tells, cheaply, whether raw is a commitTransaction or
// abortTransaction command entry: the only entries Resolves parses.
func endsTransaction(raw bson.Raw) bool {
	if op, err := oplog.EntryOp(raw); err != nil || op != "c" {
		return false
	}
	o, ok := raw.Lookup("o").DocumentOK()
	if !ok {
		return false
	}
	first, err := o.IndexErr(0)
	if err != nil {
		return false
	}
	return first.Key() == "commitTransaction" || first.Key() == "abortTransaction"
}

// readSession reads lsid, txnNumber and prevOpTime. An entry with only one of
// lsid and txnNumber is not part of a transaction (mongo-tools agrees), but
// either one of the wrong type is malformed.
func (e *entry) readSession() error {
	lsidV, hasLSID := lookup(e.raw, "lsid")
	txnV, hasTxn := lookup(e.raw, "txnNumber")
	if hasLSID {
		lsid, ok := lsidV.DocumentOK()
		if !ok {
			return malformed(e.ts, nil, "lsid is a %s, not a document", lsidV.Type)
		}
		e.id.LSID = lsid
	}
	if hasTxn {
		n, ok := integer(txnV)
		if !ok {
			return malformed(e.ts, nil, "txnNumber is a %s, not an integer", txnV.Type)
		}
		e.id.TxnNumber = n
	}
	e.session = hasLSID && hasTxn
	if !e.session {
		e.id = ID{}
	}
	if v, ok := lookup(e.raw, "prevOpTime"); ok {
		doc, ok := v.DocumentOK()
		if !ok {
			return malformed(e.ts, nil, "prevOpTime is a %s, not a document", v.Type)
		}
		t, i, ok := doc.Lookup("ts").TimestampOK()
		if !ok {
			return malformed(e.ts, nil, "prevOpTime has no ts timestamp")
		}
		e.prev = oplog.Timestamp{T: t, I: i}
	}
	return nil
}

func (e *entry) readApplyOps(o bson.Raw) error {
	if v, ok := lookup(e.raw, "multiOpType"); ok {
		n, ok := integer(v)
		switch {
		case !ok:
			return malformed(e.ts, nil, "multiOpType is a %s, not an integer", v.Type)
		case n == 1: // kApplyOpsAppliedSeparately: vectored inserts (8.0)
			e.separate = true
		case n != 0:
			return unsupported(e.ts, "applyOps with multiOpType %d (only 0 and 1 are known)", n)
		}
	}
	var err error
	if e.partial, err = flag(e.ts, o, "partialTxn"); err != nil {
		return err
	}
	if e.prepare, err = flag(e.ts, o, "prepare"); err != nil {
		return err
	}
	if e.partial && e.prepare {
		return malformed(e.ts, nil, "applyOps with both partialTxn and prepare")
	}
	if v, ok := lookup(o, "count"); ok {
		if e.count, ok = integer(v); !ok || e.count < 0 {
			return malformed(e.ts, nil, "applyOps count is %s, not a non-negative integer", v)
		}
		e.hasCount = true
	}
	arr, ok := o.Lookup("applyOps").ArrayOK()
	if !ok {
		return malformed(e.ts, nil, "applyOps is a %s, not an array", o.Lookup("applyOps").Type)
	}
	e.ops, e.top, err = flatten(e.ts, arr, "applyOps", 0, nil)
	return err
}

// flatten appends the operations of arr to dst, expanding nested applyOps in
// place, and returns how many elements arr itself has. Each operation must be
// a document with a string op; all but no-ops need a string ns and an o
// document, which is what any applier will read.
func flatten(ts oplog.Timestamp, arr bson.RawArray, path string, depth int, dst []bson.Raw) ([]bson.Raw, int, error) {
	vals, err := arr.Values()
	if err != nil {
		return dst, 0, malformed(ts, err, "%s is not a valid array", path)
	}
	for i, v := range vals {
		where := fmt.Sprintf("%s[%d]", path, i)
		doc, ok := v.DocumentOK()
		if !ok {
			return dst, 0, malformed(ts, nil, "%s is a %s, not an operation document", where, v.Type)
		}
		op, ok := doc.Lookup("op").StringValueOK()
		if !ok {
			return dst, 0, malformed(ts, nil, "%s has no string op", where)
		}
		if op == "n" {
			dst = append(dst, doc)
			continue
		}
		if _, ok := doc.Lookup("ns").StringValueOK(); !ok {
			return dst, 0, malformed(ts, nil, "%s (op %q) has no string ns", where, op)
		}
		o, ok := doc.Lookup("o").DocumentOK()
		if !ok {
			return dst, 0, malformed(ts, nil, "%s (op %q) has no o document", where, op)
		}
		if op == "c" {
			if first, err := o.IndexErr(0); err == nil && first.Key() == "applyOps" {
				if depth+1 >= maxNesting {
					return dst, 0, malformed(ts, nil, "%s nests applyOps deeper than %d", where, maxNesting)
				}
				if _, ok := lookup(o, "partialTxn"); ok {
					return dst, 0, malformed(ts, nil, "%s is a nested applyOps with partialTxn", where)
				}
				if _, ok := lookup(o, "prepare"); ok {
					return dst, 0, malformed(ts, nil, "%s is a nested applyOps with prepare", where)
				}
				inner, ok := first.Value().ArrayOK()
				if !ok {
					return dst, 0, malformed(ts, nil, "%s.applyOps is a %s, not an array", where, first.Value().Type)
				}
				if dst, _, err = flatten(ts, inner, where+".applyOps", depth+1, dst); err != nil {
					return dst, 0, err
				}
				continue
			}
		}
		dst = append(dst, doc)
	}
	return dst, len(vals), nil
}

// maxDepth bounds document nesting, above the server's own limit (100 for
// user documents, a little more for oplog entries that wrap them).
const maxDepth = 200

// validateDeep checks doc and every document, array and scope nested in it;
// bson.Raw.Validate checks one level only.
func validateDeep(doc bson.Raw, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("documents nested deeper than %d", maxDepth)
	}
	if err := doc.Validate(); err != nil {
		return err
	}
	elems, err := doc.Elements()
	if err != nil {
		return err
	}
	for _, el := range elems {
		v := el.Value()
		var sub bson.Raw
		switch v.Type {
		case bson.TypeEmbeddedDocument, bson.TypeArray:
			sub = bson.Raw(v.Value)
		case bson.TypeCodeWithScope:
			_, scope, ok := v.CodeWithScopeOK()
			if !ok {
				return fmt.Errorf("field %q: invalid code with scope", el.Key())
			}
			sub = scope
		default:
			continue
		}
		if err := validateDeep(sub, depth+1); err != nil {
			return fmt.Errorf("field %q: %w", el.Key(), err)
		}
	}
	return nil
}

// lookup distinguishes a missing field from a present one.
func lookup(doc bson.Raw, key string) (bson.RawValue, bool) {
	v, err := doc.LookupErr(key)
	return v, err == nil
}

// integer accepts the integer types a re-serialized oplog may carry.
func integer(v bson.RawValue) (int64, bool) {
	if n, ok := v.Int64OK(); ok {
		return n, true
	}
	if n, ok := v.Int32OK(); ok {
		return int64(n), true
	}
	return 0, false
}

// flag reads an optional boolean option of applyOps. The server writes true
// or leaves it out; false is accepted as absent.
func flag(ts oplog.Timestamp, o bson.Raw, key string) (bool, error) {
	v, ok := lookup(o, key)
	if !ok {
		return false, nil
	}
	b, ok := v.BooleanOK()
	if !ok {
		return false, malformed(ts, nil, "applyOps %s is a %s, not a boolean", key, v.Type)
	}
	return b, nil
}
