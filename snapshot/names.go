package snapshot

import (
	"fmt"
	"strings"
	"time"

	"github.com/tidelog/tidelog/oplog"
)

// idTimeLayout is the UTC start time at the front of an ID: compact, sortable
// and free of the ':' that file systems and object stores handle badly.
const idTimeLayout = "20060102T150405Z"

// NewID builds a snapshot ID from the time Take began and the Start
// position: "20261121T184700Z-1700000000.0000000005". T and I are
// zero-padded to 10 digits, as in segment names, so that IDs sort bytewise
// by time and then by position; the time comes first so a person sees when
// a snapshot was taken without converting a timestamp.
func NewID(taken time.Time, start oplog.Timestamp) string {
	return fmt.Sprintf("%s-%010d.%010d", taken.UTC().Format(idTimeLayout), start.T, start.I)
}

// nameMaxHint bounds the readable namespace part of a data file name, so
// that a name stays far below the 255-byte limit of common file systems
// whatever the namespace's length (up to 255 bytes in MongoDB).
const nameMaxHint = 80

// fileName names part (0-based) of the collection at index coll of a
// snapshot: "c0003-shop.orders-p0001.bson.lz4".
//
// The store allows only [A-Za-z0-9._-] in names, and MongoDB allows almost
// anything in collection names (spaces, '$', non-ASCII, and names that
// differ only in case, which collide on case-insensitive file systems). So
// the name's identity is the collection's index in the manifest and the
// part number, which are unique by construction; the namespace in the
// middle is a hint for people, with other bytes replaced by '_' and cut to
// nameMaxHint bytes. Readers never parse names: the manifest maps each
// file to its collection.
func fileName(coll, part int, ns string) string {
	return fmt.Sprintf("c%04d-%s-p%04d%s", coll, nameHint(ns), part, dataSuffix)
}

// nameHint is ns reduced to store-safe bytes.
func nameHint(ns string) string {
	b := []byte(ns)
	if len(b) > nameMaxHint {
		b = b[:nameMaxHint]
	}
	for i, c := range b {
		if !nameByte(c) {
			b[i] = '_'
		}
	}
	return string(b)
}

// nameByte reports whether c may appear in a store ID or file name.
func nameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}

// checkName checks an ID or file name against the store's rule: not empty,
// [A-Za-z0-9._-] only, not beginning with '.'.
func checkName(what, s string) error {
	if s == "" || strings.HasPrefix(s, ".") {
		return fmt.Errorf("%s %q: empty or begins with '.'", what, s)
	}
	for i := 0; i < len(s); i++ {
		if !nameByte(s[i]) {
			return fmt.Errorf("%s %q: only letters, digits, '.', '_' and '-' are allowed", what, s)
		}
	}
	return nil
}
