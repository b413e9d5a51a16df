package diff

import (
	"bytes"
	"slices"
)

// opKind says what a diff does to one field of a document.
type opKind uint8

const (
	opDelete   opKind = iota + 1 // 'd': remove the field
	opUpdate                     // 'u': set the field, in place if present
	opInsert                     // 'i': (re)create the field at the end
	opBinary                     // 'b': splice bytes into a binData field
	opSubDoc                     // 's<name>' with a document diff
	opSubArray                   // 's<name>' with an array diff
)

// Section names of a document diff, and their mandatory order. MongoDB's
// DocumentDiffReader requires sections to appear in this order, each at
// most once, with every sub-diff ('s'-prefixed) field after all of them.
const (
	rankDelete = iota + 1
	rankUpdate
	rankInsert
	rankBinary
	rankSubDiff
)

// docOp is one field modification of a document diff.
type docOp struct {
	name []byte // field name in the document
	kind opKind
	// elem is the raw diff element for opUpdate/opInsert. Its key is the
	// field name itself, so it is copied into the post-image verbatim.
	elem []byte
	// opBinary: keep the pre-image's first off bytes, then append data.
	off  int64
	data []byte
	doc  *docDiff   // opSubDoc
	arr  *arrayDiff // opSubArray
	// seen is scratch state for one application of the owning docDiff:
	// an opUpdate whose field exists in the pre-image is written in place
	// and must not be appended again.
	seen bool
}

// docDiff is a parsed, fully validated document diff.
type docDiff struct {
	ops []docOp // in diff order: d, u, i, b, then sub-diffs
	// byName indexes ops sorted by name, for binary search; nil when the
	// level has at most linearLookupMax ops, where a scan is cheaper.
	byName []int32
}

// linearLookupMax is the op count up to which lookups scan linearly.
const linearLookupMax = 8

// arrOp is one element modification of an array diff.
type arrOp struct {
	idx  int
	kind opKind // opUpdate, opSubDoc or opSubArray
	typ  byte   // opUpdate: BSON type of the new value
	val  []byte // opUpdate: value bytes (the key is rewritten to idx)
	doc  *docDiff
	arr  *arrayDiff
}

// arrayDiff is a parsed, fully validated array diff.
type arrayDiff struct {
	resize bool // 'l' present
	newLen int  // 'l' value
	ops    []arrOp
}

// parseDiff parses a validated top-level diff document. The top level is
// always a document diff: an array diff there is rejected (its "a" key is
// not a section), as MongoDB does.
//
// The whole diff is validated before anything is applied, independently of
// the pre-image. MongoDB validates lazily (a malformed sub-diff under a
// field missing from the pre-image goes unnoticed there); validating
// eagerly makes "is this diff valid" a property of the diff alone, so an
// entry either always or never applies, which replay relies on.
func parseDiff(d []byte) (*docDiff, error) {
	return parseDocDiff(d)
}

// parseSubDiff parses the value of an 's' field: an array diff if its first
// field is "a", otherwise a document diff (MongoDB's identifyType).
func parseSubDiff(typ byte, v []byte) (*docDiff, *arrayDiff, error) {
	if typ != typeDocument {
		return nil, nil, newErr(ErrMalformedDiff, "sub-diff must be a document, got %s", typeName(typ))
	}
	if isEmptyDocument(v) {
		return nil, nil, newErr(ErrMalformedDiff, "empty sub-diff")
	}
	it := newIter(v)
	first, _ := it.next()
	if string(first.key) == "a" {
		a, err := parseArrayDiff(v)
		return nil, a, err
	}
	d, err := parseDocDiff(v)
	return d, nil, err
}

// parseDocDiff parses a validated document holding a document diff.
func parseDocDiff(v []byte) (*docDiff, error) {
	if isEmptyDocument(v) {
		return nil, newErr(ErrMalformedDiff, "empty diff")
	}
	d := &docDiff{ops: make([]docOp, 0, countOps(v))}
	prev := 0
	it := newIter(v)
	for e, ok := it.next(); ok; e, ok = it.next() {
		rank, err := sectionRank(e.key)
		if err != nil {
			return nil, err
		}
		if rank < prev || (rank == prev && rank != rankSubDiff) {
			return nil, newErr(ErrMalformedDiff, "section %q out of order or repeated (order is d, u, i, b, then s<field>)", e.key)
		}
		prev = rank
		if rank == rankSubDiff {
			name := e.key[1:]
			sd, sa, err := parseSubDiff(e.typ, e.value)
			if err != nil {
				return nil, inField(err, string(name))
			}
			op := docOp{name: name, kind: opSubDoc, doc: sd}
			if sa != nil {
				op = docOp{name: name, kind: opSubArray, arr: sa}
			}
			d.ops = append(d.ops, op)
			continue
		}
		if e.typ != typeDocument {
			return nil, newErr(ErrMalformedDiff, "section %q must be a document, got %s", e.key, typeName(e.typ))
		}
		if err := d.parseSection(rank, e.value); err != nil {
			return nil, err
		}
	}
	if err := d.index(); err != nil {
		return nil, err
	}
	return d, nil
}

// countOps counts the modifications of a document diff, so ops is
// allocated once. Malformed input only makes the count wrong, not unsafe.
func countOps(v []byte) int {
	n := 0
	it := newIter(v)
	for e, ok := it.next(); ok; e, ok = it.next() {
		if len(e.key) == 1 && e.key[0] != 's' && e.typ == typeDocument {
			n += countElements(e.value)
		} else {
			n++
		}
	}
	return n
}

// countElements counts the elements of a validated document.
func countElements(doc []byte) int {
	n := 0
	it := newIter(doc)
	for _, ok := it.next(); ok; _, ok = it.next() {
		n++
	}
	return n
}

// sectionRank classifies a top-level key of a document diff.
func sectionRank(key []byte) (int, error) {
	if len(key) == 0 {
		return 0, newErr(ErrMalformedDiff, "empty section name")
	}
	if key[0] == 's' {
		return rankSubDiff, nil // "s" alone is the sub-diff of the field ""
	}
	if len(key) == 1 {
		switch key[0] {
		case 'd':
			return rankDelete, nil
		case 'u':
			return rankUpdate, nil
		case 'i':
			return rankInsert, nil
		case 'b':
			return rankBinary, nil
		}
	}
	// MongoDB only looks at the first character, so it would take "delete"
	// for 'd'; no server writes such keys, so reject them as unknown.
	return 0, newErr(ErrMalformedDiff, "unknown section %q", key)
}

// parseSection adds the entries of a d/u/i/b section.
func (d *docDiff) parseSection(rank int, section []byte) error {
	it := newIter(section)
	for e, ok := it.next(); ok; e, ok = it.next() {
		switch rank {
		case rankDelete:
			// The value is meaningless (servers write false) and, as in
			// MongoDB, not checked.
			d.ops = append(d.ops, docOp{name: e.key, kind: opDelete})
		case rankUpdate:
			d.ops = append(d.ops, docOp{name: e.key, kind: opUpdate, elem: e.raw})
		case rankInsert:
			d.ops = append(d.ops, docOp{name: e.key, kind: opInsert, elem: e.raw})
		case rankBinary:
			off, data, err := parseBinaryDiff(e)
			if err != nil {
				return inField(err, string(e.key))
			}
			d.ops = append(d.ops, docOp{name: e.key, kind: opBinary, off: off, data: data})
		}
	}
	return nil
}

// index builds the sorted lookup table and rejects a field named twice, in
// one section or across sections (MongoDB error 4728000): the result would
// depend on which modification wins.
func (d *docDiff) index() error {
	if len(d.ops) <= linearLookupMax {
		for i := range d.ops {
			for j := range i {
				if bytes.Equal(d.ops[i].name, d.ops[j].name) {
					return newErr(ErrMalformedDiff, "duplicate field name %q in diff", d.ops[i].name)
				}
			}
		}
		return nil
	}
	d.byName = make([]int32, len(d.ops))
	for i := range d.byName {
		d.byName[i] = int32(i)
	}
	slices.SortFunc(d.byName, func(a, b int32) int {
		return bytes.Compare(d.ops[a].name, d.ops[b].name)
	})
	for i := 1; i < len(d.byName); i++ {
		if bytes.Equal(d.ops[d.byName[i-1]].name, d.ops[d.byName[i]].name) {
			return newErr(ErrMalformedDiff, "duplicate field name %q in diff", d.ops[d.byName[i]].name)
		}
	}
	return nil
}

// lookup returns the op for field name, or nil.
func (d *docDiff) lookup(name []byte) *docOp {
	if d.byName == nil {
		for i := range d.ops {
			if bytes.Equal(d.ops[i].name, name) {
				return &d.ops[i]
			}
		}
		return nil
	}
	lo, hi := 0, len(d.byName)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		switch c := bytes.Compare(d.ops[d.byName[m]].name, name); {
		case c == 0:
			return &d.ops[d.byName[m]]
		case c < 0:
			lo = m + 1
		default:
			hi = m
		}
	}
	return nil
}
