package store

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// SegmentSuffix ends every segment name (segment.Name makes them).
const SegmentSuffix = ".tseg"

// Name rules every implementation enforces alike, so that a store's content
// can move between them (a directory copied to a bucket) and no name can
// escape the place its store keeps it in (a path, a key prefix, a topic).

// ValidStream checks a stream name: [A-Za-z0-9._-], not empty, not "." or
// "..". Replica set names fit.
func ValidStream(stream string) error {
	switch {
	case stream == "":
		return fmt.Errorf("invalid stream name %q: empty", stream)
	case stream == "." || stream == "..":
		return fmt.Errorf("invalid stream name %q", stream)
	case !PlainName(stream):
		return fmt.Errorf("invalid stream name %q: only letters, digits, '.', '_' and '-' are allowed", stream)
	}
	return nil
}

// ValidSegment checks a segment name: it ends with SegmentSuffix, has
// something before it, holds no separator or NUL, and does not begin with
// '.' (hidden, or taken for a temporary file).
func ValidSegment(name string) error {
	switch {
	case !strings.HasSuffix(name, SegmentSuffix) || len(name) == len(SegmentSuffix):
		return fmt.Errorf("invalid segment name %q: must end with %s", name, SegmentSuffix)
	case strings.ContainsAny(name, "/\\\x00"):
		return fmt.Errorf("invalid segment name %q: must not contain a path separator", name)
	case strings.HasPrefix(name, "."):
		return fmt.Errorf("invalid segment name %q: must not begin with '.'", name)
	}
	return nil
}

// ValidSnapshotPart checks a snapshot ID or file name (what says which):
// [A-Za-z0-9._-], not empty, not beginning with '.'.
func ValidSnapshotPart(what, v string) error {
	if v == "" || strings.HasPrefix(v, ".") {
		return fmt.Errorf("invalid snapshot %s %q: empty or begins with '.'", what, v)
	}
	if !PlainName(v) {
		return fmt.Errorf("invalid snapshot %s %q: only letters, digits, '.', '_' and '-' are allowed", what, v)
	}
	return nil
}

// PlainName reports whether s is made of [A-Za-z0-9._-] only.
func PlainName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// SortGaps orders gaps as Gaps returns them: by After, then Next.
func SortGaps(gaps []Gap) {
	slices.SortFunc(gaps, func(a, b Gap) int {
		return cmp.Or(a.After.Compare(b.After), a.Next.Compare(b.Next))
	})
}
