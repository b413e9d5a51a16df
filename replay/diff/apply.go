package diff

import "go.mongodb.org/mongo-driver/v2/bson"

// Apply applies a $v:2 delta diff (the value of an update oplog entry's
// o.diff) to the document pre and returns the post-image, with MongoDB's
// semantics down to the bytes: field order, BSON types and array element
// names are what a MongoDB server applying the same entry stores.
//
// pre and diff are not modified; the result is a new buffer. Apply is a
// pure function of its inputs. It never panics: malformed input yields an
// *Error (see ErrMalformedDiff, ErrInvalidBSON, ErrTooLarge).
//
// Apply is idempotent: whenever Apply(pre, diff) returns post without
// error, Apply(post, diff) returns post again, byte for byte. MongoDB
// relies on this when an oplog range is replayed over a state that already
// contains some of its effects (a fuzzy dump plus its oplog window).
//
// Apply always checks whether an 'i' field already exists in the pre-image
// and, if so, drops it there before appending the new value: the original
// MongoDB behaviour, and the only idempotent one. Newer servers also have
// an unchecked fast path for insert-only diffs that appends blindly
// (selected by mustCheckExistenceForInsertOperations, cf. the oplog's
// checkExistenceForDiffInsert flag). The two differ only when an inserted
// field already exists, which cannot be the case on the primary that
// logged the entry, only when replaying over a newer state, where checking
// is what keeps the document free of duplicate fields.
func Apply(pre bson.Raw, diff bson.Raw) (bson.Raw, error) {
	if err := validateDocument(pre, 1); err != nil {
		return nil, prefixMsg(err, "pre-image: ")
	}
	if err := validateDocument(diff, 1); err != nil {
		return nil, prefixMsg(err, "diff: ")
	}
	d, err := parseDiff(diff)
	if err != nil {
		return nil, err
	}
	out, err := applyDocument(make([]byte, 0, len(pre)+len(diff)), pre, d)
	if err != nil {
		return nil, err
	}
	if len(out) > MaxDocumentSize {
		return nil, newErr(ErrTooLarge, "post-image is %d bytes, over the %d-byte limit", len(out), MaxDocumentSize)
	}
	return out, nil
}

// applyDocument appends the post-image of document pre (validated) under
// document diff d, as a document body (length, elements, NUL).
//
// Field order follows MongoDB's DiffApplier:
//  1. pre-image fields are visited in order: untouched fields are copied;
//     'd' fields are dropped; 'u' fields are replaced in place; 'i' fields
//     are dropped here (re-added in step 2, so an insert of an existing
//     field moves it to the end); sub-diff and 'b' fields are rewritten in
//     place, or set to null in place when the pre-image value has the
//     wrong type (a document diff on a non-document, an array diff on a
//     non-array): that only happens when replaying an entry over a newer
//     state, and a later entry rewrites the field;
//  2. then, in diff order, every 'u' field the pre-image did not have and
//     every 'i' field is appended ('u' before 'i', as sections are ordered).
//
// A 'd', sub-diff or 'b' field missing from the pre-image is ignored. If
// the pre-image has a field name twice, each occurrence is treated alike.
func applyDocument(out, pre []byte, d *docDiff) ([]byte, error) {
	for i := range d.ops {
		d.ops[i].seen = false
	}
	out, start := beginDocument(out)
	it := newIter(pre)
	for e, ok := it.next(); ok; e, ok = it.next() {
		op := d.lookup(e.key)
		if op == nil {
			out = append(out, e.raw...)
			continue
		}
		var err error
		switch op.kind {
		case opDelete, opInsert:
			// Dropped; an insert is re-added at the end.
		case opUpdate:
			out = append(out, op.elem...)
			op.seen = true
		case opBinary:
			out = appendBinaryField(out, &e, op)
		case opSubDoc:
			if e.typ != typeDocument {
				out = appendHeader(out, typeNull, e.key)
				break
			}
			out = appendHeader(out, typeDocument, e.key)
			out, err = applyDocument(out, e.value, op.doc)
		case opSubArray:
			if e.typ != typeArray {
				out = appendHeader(out, typeNull, e.key)
				break
			}
			out = appendHeader(out, typeArray, e.key)
			out, err = applyArray(out, e.value, op.arr)
		}
		if err != nil {
			return nil, inField(err, string(e.key))
		}
		if len(out) > MaxDocumentSize {
			return nil, newErr(ErrTooLarge, "post-image exceeds %d bytes", MaxDocumentSize)
		}
	}
	for i := range d.ops {
		op := &d.ops[i]
		if (op.kind == opUpdate && !op.seen) || op.kind == opInsert {
			out = append(out, op.elem...)
		}
	}
	return endDocument(out, start), nil
}

// prefixMsg adds context to the message of an *Error.
func prefixMsg(err error, prefix string) error {
	if e, ok := err.(*Error); ok {
		e.Msg = prefix + e.Msg
	}
	return err
}
