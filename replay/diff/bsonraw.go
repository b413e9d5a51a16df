package diff

import (
	"bytes"
	"encoding/binary"
	"strconv"
)

// This file holds the small amount of raw-BSON machinery the applier needs:
// a strict validator, an element iterator over already-validated documents,
// and appenders. Working on bytes (rather than decoding into bson.D) is what
// keeps every value's exact BSON type and bytes intact: an int32 stays an
// int32, a double 3.0 stays a double, and untouched fields are copied
// verbatim.

// BSON element type bytes used by the applier.
const (
	typeDouble   byte = 0x01
	typeString   byte = 0x02
	typeDocument byte = 0x03
	typeArray    byte = 0x04
	typeBinary   byte = 0x05
	typeNull     byte = 0x0A
	typeBool     byte = 0x08
	typeInt32    byte = 0x10
	typeInt64    byte = 0x12
)

const (
	// MaxDocumentSize bounds the post-image: MongoDB's internal BSON object
	// limit (16 MiB user limit + 16 KiB headroom). A larger post-image
	// cannot exist on a server, so producing one means the diff is bogus
	// (e.g. an array index of 2^31 that would pad billions of nulls).
	MaxDocumentSize = 16*1024*1024 + 16*1024

	// MaxDepth bounds document/array nesting of the pre-image and of the
	// diff (the top-level document is depth 1). It equals the ceiling of
	// MongoDB's maxBSONDepth parameter, well above anything a server
	// stores, and exists so hostile input cannot exhaust the stack.
	MaxDepth = 1000
)

// element is one element of a validated document.
type element struct {
	typ   byte
	key   []byte // field name, without the terminating NUL
	value []byte // value bytes, exactly as encoded
	raw   []byte // type byte + key + NUL + value: the whole element
}

// iter walks the elements of a document that has already passed
// validateDocument. It does no bounds checking of its own.
type iter struct {
	rest []byte
}

// newIter returns an iterator over doc, a validated document (length
// prefix, elements, trailing NUL).
func newIter(doc []byte) iter {
	return iter{rest: doc[4 : len(doc)-1]}
}

// next returns the next element, or false at the end.
func (it *iter) next() (element, bool) {
	if len(it.rest) == 0 {
		return element{}, false
	}
	typ := it.rest[0]
	k := bytes.IndexByte(it.rest[1:], 0)
	vstart := 1 + k + 1
	n, _ := valueSize(typ, it.rest[vstart:])
	e := element{
		typ:   typ,
		key:   it.rest[1 : 1+k],
		value: it.rest[vstart : vstart+n],
		raw:   it.rest[:vstart+n],
	}
	it.rest = it.rest[vstart+n:]
	return e, true
}

// isEmptyDocument reports whether a validated document has no elements.
func isEmptyDocument(doc []byte) bool { return len(doc) == 5 }

// readInt32 reads a little-endian int32; the caller guarantees 4 bytes.
func readInt32(b []byte) int32 { return int32(binary.LittleEndian.Uint32(b)) }

// valueSize returns how many bytes the value of type typ occupies at the
// start of b, checking only what is needed to find its end (lengths within
// bounds, terminators present). Nested documents are not descended into;
// validateValue does that.
func valueSize(typ byte, b []byte) (int, error) {
	fixed := func(n int) (int, error) {
		if len(b) < n {
			return 0, newErr(ErrInvalidBSON, "truncated %s value", typeName(typ))
		}
		return n, nil
	}
	switch typ {
	case 0x06, typeNull, 0x7F, 0xFF: // undefined, null, maxKey, minKey
		return 0, nil
	case typeBool:
		return fixed(1)
	case typeInt32:
		return fixed(4)
	case typeDouble, 0x09, 0x11, typeInt64: // double, datetime, timestamp, int64
		return fixed(8)
	case 0x07: // ObjectId
		return fixed(12)
	case 0x13: // decimal128
		return fixed(16)
	case typeString, 0x0D, 0x0E: // string, JavaScript, symbol
		return stringSize(b)
	case typeDocument, typeArray:
		if len(b) < 4 {
			return 0, newErr(ErrInvalidBSON, "truncated %s length", typeName(typ))
		}
		n := int(readInt32(b))
		if n < 5 || n > len(b) {
			return 0, newErr(ErrInvalidBSON, "%s length %d out of range", typeName(typ), n)
		}
		return n, nil
	case typeBinary:
		if len(b) < 5 {
			return 0, newErr(ErrInvalidBSON, "truncated binary header")
		}
		n := int(readInt32(b))
		if n < 0 || n > len(b)-5 {
			return 0, newErr(ErrInvalidBSON, "binary length %d out of range", n)
		}
		return 5 + n, nil
	case 0x0B: // regex: two cstrings
		p := bytes.IndexByte(b, 0)
		if p < 0 {
			return 0, newErr(ErrInvalidBSON, "unterminated regex pattern")
		}
		o := bytes.IndexByte(b[p+1:], 0)
		if o < 0 {
			return 0, newErr(ErrInvalidBSON, "unterminated regex options")
		}
		return p + 1 + o + 1, nil
	case 0x0C: // DBPointer: string + ObjectId
		n, err := stringSize(b)
		if err != nil {
			return 0, err
		}
		if len(b)-n < 12 {
			return 0, newErr(ErrInvalidBSON, "truncated DBPointer")
		}
		return n + 12, nil
	case 0x0F: // code with scope: int32 total, string, document
		if len(b) < 4 {
			return 0, newErr(ErrInvalidBSON, "truncated code-with-scope length")
		}
		n := int(readInt32(b))
		if n < 14 || n > len(b) {
			return 0, newErr(ErrInvalidBSON, "code-with-scope length %d out of range", n)
		}
		return n, nil
	default:
		return 0, newErr(ErrInvalidBSON, "unknown element type 0x%02x", typ)
	}
}

// stringSize sizes a BSON string (int32 length including the NUL, bytes,
// NUL).
func stringSize(b []byte) (int, error) {
	if len(b) < 4 {
		return 0, newErr(ErrInvalidBSON, "truncated string length")
	}
	n := int(readInt32(b))
	if n < 1 || n > len(b)-4 {
		return 0, newErr(ErrInvalidBSON, "string length %d out of range", n)
	}
	if b[4+n-1] != 0 {
		return 0, newErr(ErrInvalidBSON, "string not NUL-terminated")
	}
	return 4 + n, nil
}

// validateDocument checks that doc is exactly one well-formed BSON document
// (no trailing bytes), recursively, with nesting at most MaxDepth. depth is
// the depth of doc itself (1 for a top-level document).
func validateDocument(doc []byte, depth int) error {
	if depth > MaxDepth {
		return newErr(ErrTooLarge, "nesting deeper than %d levels", MaxDepth)
	}
	if len(doc) < 5 {
		return newErr(ErrInvalidBSON, "document shorter than 5 bytes")
	}
	if n := int(readInt32(doc)); n != len(doc) {
		return newErr(ErrInvalidBSON, "document length prefix %d, have %d bytes", n, len(doc))
	}
	if doc[len(doc)-1] != 0 {
		return newErr(ErrInvalidBSON, "document not NUL-terminated")
	}
	rest := doc[4 : len(doc)-1]
	for len(rest) > 0 {
		typ := rest[0]
		if typ == 0 {
			return newErr(ErrInvalidBSON, "NUL type byte inside document")
		}
		k := bytes.IndexByte(rest[1:], 0)
		if k < 0 {
			return newErr(ErrInvalidBSON, "unterminated field name")
		}
		key := rest[1 : 1+k]
		v := rest[1+k+1:]
		n, err := valueSize(typ, v)
		if err != nil {
			return inField(err, string(key))
		}
		if err := validateValue(typ, v[:n], depth); err != nil {
			return inField(err, string(key))
		}
		rest = v[n:]
	}
	return nil
}

// validateValue checks the inside of a value already sized by valueSize.
func validateValue(typ byte, v []byte, depth int) error {
	switch typ {
	case typeDocument, typeArray:
		return validateDocument(v, depth+1)
	case typeBool:
		if v[0] > 1 {
			return newErr(ErrInvalidBSON, "boolean byte 0x%02x", v[0])
		}
	case 0x0F: // code with scope
		s, err := stringSize(v[4:])
		if err != nil {
			return err
		}
		scope := v[4+s:]
		if len(scope) < 5 || int(readInt32(scope)) != len(scope) {
			return newErr(ErrInvalidBSON, "code-with-scope lengths disagree")
		}
		return validateDocument(scope, depth+1)
	}
	return nil
}

// typeName names a BSON type for error messages.
func typeName(typ byte) string {
	switch typ {
	case typeDouble:
		return "double"
	case typeString:
		return "string"
	case typeDocument:
		return "document"
	case typeArray:
		return "array"
	case typeBinary:
		return "binData"
	case 0x06:
		return "undefined"
	case 0x07:
		return "objectId"
	case typeBool:
		return "bool"
	case 0x09:
		return "date"
	case typeNull:
		return "null"
	case 0x0B:
		return "regex"
	case 0x0C:
		return "dbPointer"
	case 0x0D:
		return "javascript"
	case 0x0E:
		return "symbol"
	case 0x0F:
		return "javascriptWithScope"
	case typeInt32:
		return "int"
	case 0x11:
		return "timestamp"
	case typeInt64:
		return "long"
	case 0x13:
		return "decimal"
	case 0x7F:
		return "maxKey"
	case 0xFF:
		return "minKey"
	}
	return "type 0x" + strconv.FormatUint(uint64(typ), 16)
}

// appendHeader appends an element's type byte and field name.
func appendHeader(out []byte, typ byte, key []byte) []byte {
	out = append(out, typ)
	out = append(out, key...)
	return append(out, 0)
}

// appendIndexHeader appends an element header whose name is an array
// position.
func appendIndexHeader(out []byte, typ byte, idx int) []byte {
	out = append(out, typ)
	out = strconv.AppendInt(out, int64(idx), 10)
	return append(out, 0)
}

// beginDocument reserves the length prefix of a document or array and
// returns where it starts; endDocument writes the terminator and length.
func beginDocument(out []byte) ([]byte, int) {
	return append(out, 0, 0, 0, 0), len(out)
}

func endDocument(out []byte, start int) []byte {
	out = append(out, 0)
	binary.LittleEndian.PutUint32(out[start:], uint32(len(out)-start))
	return out
}
