package diff

import (
	"encoding/binary"
	"math"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// ApplyOplogUpdate applies the 'o' field of an update ('u') oplog entry in
// the delta form {$v: 2, diff: {...}} to pre. It checks that $v is 2 and
// that 'o' has no other fields, then calls Apply on the diff.
//
// $v is accepted as an int32 (what servers write), int64 or double equal
// to 2, since tools that re-serialize the oplog through JSON change number
// types. Any other 'o' shape, such as a replacement document or a $v:1
// {$set, $unset} update, fails with ErrNotDelta: those need a different
// applier, and guessing would corrupt the document.
func ApplyOplogUpdate(pre bson.Raw, o bson.Raw) (bson.Raw, error) {
	if err := validateDocument(o, 1); err != nil {
		return nil, prefixMsg(err, "oplog o: ")
	}
	var (
		version     []byte
		versionTy   byte
		haveVersion bool
		diff        []byte
		haveDiff    bool
	)
	it := newIter(o)
	for e, ok := it.next(); ok; e, ok = it.next() {
		switch string(e.key) {
		case "$v":
			if haveVersion {
				return nil, newErr(ErrNotDelta, "o has $v twice")
			}
			version, versionTy, haveVersion = e.value, e.typ, true
		case "diff":
			if haveDiff {
				return nil, newErr(ErrNotDelta, "o has diff twice")
			}
			if e.typ != typeDocument {
				return nil, newErr(ErrNotDelta, "o.diff must be a document, got %s", typeName(e.typ))
			}
			diff, haveDiff = e.value, true
		default:
			return nil, newErr(ErrNotDelta, "unexpected field %q in o (want only $v and diff)", e.key)
		}
	}
	if !haveVersion {
		return nil, newErr(ErrNotDelta, "o has no $v field (a replacement, or a pre-3.6 update?)")
	}
	v, ok := numberValue(versionTy, version)
	if !ok {
		return nil, newErr(ErrNotDelta, "o.$v must be a number, got %s", typeName(versionTy))
	}
	if v != 2 {
		return nil, newErr(ErrNotDelta, "o.$v is %v; only $v:2 delta updates are supported", v)
	}
	if !haveDiff {
		return nil, newErr(ErrNotDelta, "o has $v:2 but no diff field")
	}
	return Apply(pre, diff)
}

// numberValue converts an int32, int64 or double value to float64.
func numberValue(typ byte, v []byte) (float64, bool) {
	switch typ {
	case typeInt32:
		return float64(readInt32(v)), true
	case typeInt64:
		return float64(int64(binary.LittleEndian.Uint64(v))), true
	case typeDouble:
		return math.Float64frombits(binary.LittleEndian.Uint64(v)), true
	}
	return 0, false
}
