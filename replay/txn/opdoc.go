package txn

import (
	"encoding/binary"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Inner operations of applyOps have op, ns, ui, o, o2 (and stmtId, b, ...)
// but no position: they all happen at the outer entry's ts. The Buffer hands
// them out as ordinary oplog entries, so that a replayer needs one code path:
// the inherited fields below come from the entry that makes them take effect
// (the applyOps itself, the last entry of a chain, or commitTransaction), and
// whatever the inner operation says about them is dropped (user applyOps of
// 3.6 carry their own ts, h and v, which are not when they were applied).

// inherited are the fields an inner operation takes from its outer entry.
var inherited = [...]string{"ts", "t", "v", "wall"}

// dropped are inner fields that would contradict the outer entry.
var dropped = [...]string{"ts", "t", "v", "wall", "h"}

// header returns the raw elements of outer that every inner operation
// inherits, ts first. outer must be valid BSON with a ts.
func header(outer bson.Raw) ([]byte, error) {
	elems, err := outer.Elements()
	if err != nil {
		return nil, err
	}
	var hdr []byte
	for _, key := range inherited {
		for _, el := range elems {
			if el.Key() == key {
				hdr = append(hdr, el...)
				break
			}
		}
	}
	if len(hdr) == 0 || bson.RawElement(hdr).Key() != "ts" {
		return nil, fmt.Errorf("outer entry has no ts")
	}
	return hdr, nil
}

// appendOp appends to dst the oplog entry for inner: the header, then every
// element of inner except the dropped ones, in inner's order.
func appendOp(dst, hdr []byte, inner bson.Raw) ([]byte, error) {
	elems, err := inner.Elements()
	if err != nil {
		return dst, err
	}
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = append(dst, hdr...)
next:
	for _, el := range elems {
		key := el.Key()
		for _, d := range dropped {
			if key == d {
				continue next
			}
		}
		dst = append(dst, el...)
	}
	dst = append(dst, 0)
	binary.LittleEndian.PutUint32(dst[start:], uint32(len(dst)-start))
	return dst, nil
}
