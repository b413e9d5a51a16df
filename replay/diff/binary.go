package diff

import "encoding/binary"

// Binary diffs ('b' section), written by MongoDB 8.0+ for time-series
// buckets whose data columns are compressed BSONColumn binData.
//
// Format: b: {<field>: {o: <offset>, d: <binData>}}. Applying it to a
// binData field keeps the first o bytes of the pre-image payload and
// appends d's payload; the pre-image's binData subtype is kept (d is
// written with the generic subtype). If the pre-image payload is shorter
// than o, the field is left unchanged: the entry is being replayed over a
// state a later entry already shrank, and that later entry will produce
// the right bytes. These rules, and the rejection of a non-document entry,
// a negative offset and a non-binData 'd', follow the BinaryAppend*,
// BinaryOverwrite*, BinaryIsIdempotent* and BinaryMalformed*/Negative*
// cases of MongoDB's document_diff_applier_test.cpp.
//
// Inferred, not observed in MongoDB's sources available here: the section
// sits between 'i' and the sub-diffs (the time-series writer emits 'i'
// then 'b'); a field missing from the pre-image is left missing (like a
// sub-diff); and a field of another type becomes null (like a sub-diff
// type mismatch). Either choice is idempotent, and a later entry rewrites
// such a field anyway.

// parseBinaryDiff parses one entry of a 'b' section.
func parseBinaryDiff(e element) (off int64, data []byte, err error) {
	if e.typ != typeDocument {
		return 0, nil, newErr(ErrMalformedDiff, "binary diff must be a document {o, d}, got %s", typeName(e.typ))
	}
	haveOff, haveData := false, false
	it := newIter(e.value)
	for f, ok := it.next(); ok; f, ok = it.next() {
		switch string(f.key) {
		case "o":
			switch f.typ {
			case typeInt32:
				off = int64(readInt32(f.value))
			case typeInt64:
				off = int64(binary.LittleEndian.Uint64(f.value))
			default:
				return 0, nil, newErr(ErrMalformedDiff, "binary diff offset \"o\" must be an integer, got %s", typeName(f.typ))
			}
			if off < 0 {
				return 0, nil, newErr(ErrMalformedDiff, "binary diff offset \"o\" is negative (%d)", off)
			}
			haveOff = true
		case "d":
			if f.typ != typeBinary {
				return 0, nil, newErr(ErrMalformedDiff, "binary diff data \"d\" must be binData, got %s", typeName(f.typ))
			}
			data = f.value[5:]
			haveData = true
		default:
			return 0, nil, newErr(ErrMalformedDiff, "unexpected key %q in binary diff", f.key)
		}
	}
	if !haveOff || !haveData {
		return 0, nil, newErr(ErrMalformedDiff, "binary diff needs both \"o\" and \"d\"")
	}
	return off, data, nil
}

// appendBinaryField appends field e (from the pre-image) with op applied.
func appendBinaryField(out []byte, e *element, op *docOp) []byte {
	if e.typ != typeBinary {
		return appendHeader(out, typeNull, e.key)
	}
	subtype, payload := e.value[4], e.value[5:]
	if op.off > int64(len(payload)) {
		return append(out, e.raw...)
	}
	keep := payload[:op.off]
	out = appendHeader(out, typeBinary, e.key)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(keep)+len(op.data)))
	out = append(out, subtype)
	out = append(out, keep...)
	return append(out, op.data...)
}
