package segment

import (
	"encoding/binary"
	"fmt"

	"github.com/tidelog/tidelog/oplog"
)

// entryTS returns the non-zero ts of a framed entry (length prefix equal to
// len(entry), final 0x00, checked by the caller), or an error wrapping
// ErrInvalidEntry. Writer and Reader both call it for every entry, so it
// tries findTS first and leaves everything findTS does not handle, errors
// included, to oplog.EntryTS, which stays the authority.
func entryTS(entry []byte) (oplog.Timestamp, error) {
	ts, ok := findTS(entry)
	if !ok {
		var err error
		if ts, err = oplog.EntryTS(entry); err != nil {
			return ts, fmt.Errorf("%w: %w", ErrInvalidEntry, err)
		}
	}
	if ts.IsZero() {
		return ts, fmt.Errorf("ts is 0.0: %w", ErrInvalidEntry)
	}
	return ts, nil
}

// findTS is a fast path for oplog.EntryTS on a framed entry: it walks the
// top-level elements, skipping values by their size, until the first key
// "ts". It reports ok only when that key holds a timestamp and every element
// before it is of a common type with a sane size, in which case the result
// equals oplog.EntryTS's (FuzzFindTS checks this). Anything unusual returns
// ok == false, never a wrong answer.
func findTS(e []byte) (oplog.Timestamp, bool) {
	le := binary.LittleEndian
	end := len(e) - 1 // the document's final 0x00
	i := 4
	for i < end {
		t := e[i]
		// Keys are short ("op", "ns", "o", "ts"): a loop beats IndexByte.
		k := 0
		for i+1+k < end && e[i+1+k] != 0 {
			k++
		}
		if i+1+k >= end {
			return oplog.Timestamp{}, false
		}
		v := i + 1 + k + 1 // value start
		if k == 2 && e[i+1] == 't' && e[i+2] == 's' {
			if t != 0x11 || v+8 > end {
				return oplog.Timestamp{}, false
			}
			return oplog.Timestamp{T: le.Uint32(e[v+4:]), I: le.Uint32(e[v:])}, true
		}
		var n int
		switch t {
		case 0x01, 0x09, 0x11, 0x12: // double, datetime, timestamp, int64
			n = 8
		case 0x02: // string: int32 length (including its 0x00), bytes
			n = 4
		case 0x03, 0x04: // document, array: int32 total length
			n = 0
		case 0x05: // binary: int32 length, subtype, bytes
			n = 5
		case 0x07: // ObjectId
			n = 12
		case 0x08: // bool
			n = 1
		case 0x0A: // null
			n = 0
		case 0x10: // int32
			n = 4
		case 0x13: // decimal128
			n = 16
		default:
			return oplog.Timestamp{}, false
		}
		if t == 0x02 || t == 0x03 || t == 0x04 || t == 0x05 {
			if v+4 > end {
				return oplog.Timestamp{}, false
			}
			l := int32(le.Uint32(e[v:]))
			if l < 0 {
				return oplog.Timestamp{}, false
			}
			n += int(l)
		}
		if n > end-v {
			return oplog.Timestamp{}, false
		}
		i = v + n
	}
	return oplog.Timestamp{}, false
}
