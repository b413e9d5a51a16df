package diff

import "math"

// Array diffs.
//
// Format: {a: true, l: <int32>?, (u<N>: <value> | s<N>: <sub-diff>)...}.
// "a" must come first and be true; "l", when present, must come right
// after it. Modifications name array positions in strictly ascending
// order, which is how MongoDB writes them (it serializes from an ordered
// map), and when "l" is present every position must be below it.
//
// Application walks the pre-image array and the modifications together:
//   - the post-image has exactly l elements when "l" is present (the
//     pre-image is truncated, or padded with nulls); otherwise it keeps
//     every pre-image element and grows, padding with nulls, to cover the
//     highest modified position;
//   - u<N> sets position N;
//   - s<N> applies the sub-diff to position N when that element has the
//     matching type (document for a document diff, array for an array
//     diff); if the element is missing or of another type it becomes null.
//     As for documents, a mismatch only happens when replaying an entry
//     over a newer state, and a later entry rewrites that position;
//   - every element of the post-image is renamed to its position ("0",
//     "1", ...), as MongoDB's BSONArrayBuilder does.
//
// MongoDB does not check the ordering rules: out-of-order or duplicate
// positions make its applier loop forever and a position at or beyond "l"
// trips an invariant. Both are rejected here as malformed.

// maxArrayIndex bounds array positions in a diff; anything larger cannot
// fit in a 16 MiB document anyway.
const maxArrayIndex = math.MaxInt32

// parseArrayDiff parses a validated document holding an array diff.
func parseArrayDiff(v []byte) (*arrayDiff, error) {
	a := &arrayDiff{}
	it := newIter(v)
	head, _ := it.next() // parseSubDiff saw the "a" key
	if head.typ != typeBool || head.value[0] != 1 {
		return nil, newErr(ErrMalformedDiff, "array diff header \"a\" must be true")
	}
	e, ok := it.next()
	if ok && string(e.key) == "l" {
		if e.typ != typeInt32 {
			return nil, newErr(ErrMalformedDiff, "array resize \"l\" must be an int, got %s", typeName(e.typ))
		}
		n := int(readInt32(e.value))
		if n < 0 {
			return nil, newErr(ErrMalformedDiff, "array resize \"l\" is negative (%d)", n)
		}
		a.resize, a.newLen = true, n
		e, ok = it.next()
	}
	if ok {
		rest := it // count what is left, to allocate ops once
		n := 1
		for _, more := rest.next(); more; _, more = rest.next() {
			n++
		}
		a.ops = make([]arrOp, 0, n)
	}
	last := -1
	for ; ok; e, ok = it.next() {
		op, err := parseArrayOp(e)
		if err != nil {
			return nil, err
		}
		if op.idx <= last {
			return nil, inIndex(newErr(ErrMalformedDiff, "array position %q not after position %d (positions must be strictly ascending)", e.key, last), op.idx)
		}
		if a.resize && op.idx >= a.newLen {
			return nil, inIndex(newErr(ErrMalformedDiff, "array position %q is not below the new length l=%d", e.key, a.newLen), op.idx)
		}
		last = op.idx
		a.ops = append(a.ops, op)
	}
	return a, nil
}

// parseArrayOp parses one u<N> or s<N> field of an array diff.
func parseArrayOp(e element) (arrOp, error) {
	if len(e.key) < 2 || (e.key[0] != 'u' && e.key[0] != 's') {
		return arrOp{}, newErr(ErrMalformedDiff, "unexpected key %q in array diff (want u<N> or s<N>; \"l\" must directly follow \"a\")", e.key)
	}
	idx, ok := parseIndex(e.key[1:])
	if !ok {
		return arrOp{}, newErr(ErrMalformedDiff, "bad array position in key %q (want a decimal index without sign or leading zeros)", e.key)
	}
	if e.key[0] == 'u' {
		return arrOp{idx: idx, kind: opUpdate, typ: e.typ, val: e.value}, nil
	}
	sd, sa, err := parseSubDiff(e.typ, e.value)
	if err != nil {
		return arrOp{}, inIndex(err, idx)
	}
	if sa != nil {
		return arrOp{idx: idx, kind: opSubArray, arr: sa}, nil
	}
	return arrOp{idx: idx, kind: opSubDoc, doc: sd}, nil
}

// parseIndex parses a canonical decimal array position: digits only, no
// sign, no leading zeros (MongoDB never writes "u01"; accepting it would
// let two keys name the same position), at most maxArrayIndex.
func parseIndex(b []byte) (int, bool) {
	if len(b) == 0 || (b[0] == '0' && len(b) > 1) {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
		if n > maxArrayIndex {
			return 0, false
		}
	}
	return n, true
}

// applyArray appends the post-image of array pre (a validated array
// document) under diff a, as an array body (length, elements, NUL).
func applyArray(out, pre []byte, a *arrayDiff) ([]byte, error) {
	out, start := beginDocument(out)
	ops := a.ops
	idx := 0
	it := newIter(pre)
	for !a.resize || idx < a.newLen {
		e, ok := it.next()
		if !ok {
			break
		}
		if len(ops) > 0 && ops[0].idx == idx {
			var err error
			if out, err = applyArrayOp(out, &e, &ops[0]); err != nil {
				return nil, inIndex(err, idx)
			}
			ops = ops[1:]
		} else {
			out = appendIndexHeader(out, e.typ, idx)
			out = append(out, e.value...)
		}
		idx++
	}
	// Past the end of the pre-image: pad with nulls up to "l" and to the
	// last modified position.
	end := idx
	if a.resize {
		end = a.newLen
	}
	if len(ops) > 0 {
		end = max(end, ops[len(ops)-1].idx+1)
	}
	// Each padded element takes at least 3 bytes (type, one-digit name,
	// NUL); refuse early rather than build a huge buffer and fail.
	if end > idx && end-idx > (MaxDocumentSize-len(out))/3 {
		return nil, newErr(ErrTooLarge, "array would grow to %d elements", end)
	}
	for ; idx < end; idx++ {
		if len(ops) > 0 && ops[0].idx == idx {
			var err error
			if out, err = applyArrayOp(out, nil, &ops[0]); err != nil {
				return nil, inIndex(err, idx)
			}
			ops = ops[1:]
			continue
		}
		out = appendIndexHeader(out, typeNull, idx)
		if len(out) > MaxDocumentSize {
			return nil, newErr(ErrTooLarge, "post-image exceeds %d bytes", MaxDocumentSize)
		}
	}
	return endDocument(out, start), nil
}

// applyArrayOp appends position op.idx of the post-image; pre is the
// pre-image element at that position, or nil past its end.
func applyArrayOp(out []byte, pre *element, op *arrOp) ([]byte, error) {
	switch {
	case op.kind == opUpdate:
		out = appendIndexHeader(out, op.typ, op.idx)
		return append(out, op.val...), nil
	case pre != nil && op.kind == opSubDoc && pre.typ == typeDocument:
		out = appendIndexHeader(out, typeDocument, op.idx)
		return applyDocument(out, pre.value, op.doc)
	case pre != nil && op.kind == opSubArray && pre.typ == typeArray:
		out = appendIndexHeader(out, typeArray, op.idx)
		return applyArray(out, pre.value, op.arr)
	default:
		// Missing or mismatched element: a later entry rewrites it.
		return appendIndexHeader(out, typeNull, op.idx), nil
	}
}
