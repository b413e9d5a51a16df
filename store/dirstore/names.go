package dirstore

import (
	"fmt"
	"strings"
)

// Layout names, relative to the store's root. See docs/store-layout.md.
const (
	markerName  = "tidelog-store.json"
	streamsDir  = "streams"
	segmentsDir = "segments"
	gapsDir     = "gaps"

	snapshotsDirName = "snapshots"

	// tempPrefix begins every file that is being written. Such files are
	// never listed, and no valid stream or segment name begins with it.
	tempPrefix = ".tmp-"

	segmentSuffix = ".tseg"
	gapSuffix     = ".gap.json"
)

// validStream checks that stream can be used as one directory name: it is
// made of [A-Za-z0-9._-] and is not "." or "..". Replica set names fit; a
// name with a separator could escape the store's root, so it is refused.
func validStream(stream string) error {
	if stream == "" {
		return fmt.Errorf("invalid stream name %q: empty", stream)
	}
	if stream == "." || stream == ".." {
		return fmt.Errorf("invalid stream name %q", stream)
	}
	for i := 0; i < len(stream); i++ {
		if !streamByte(stream[i]) {
			return fmt.Errorf("invalid stream name %q: only letters, digits, '.', '_' and '-' are allowed", stream)
		}
	}
	return nil
}

func streamByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == '_' || c == '-'
}

// validSegment checks that name can be one file name in a segments
// directory: it ends with ".tseg", has something before that, contains no
// path separator or NUL, and does not begin with "." (which would hide it,
// or make it look like a temporary file).
func validSegment(name string) error {
	switch {
	case !strings.HasSuffix(name, segmentSuffix) || len(name) == len(segmentSuffix):
		return fmt.Errorf("invalid segment name %q: must end with %s", name, segmentSuffix)
	case strings.ContainsAny(name, "/\\\x00"):
		return fmt.Errorf("invalid segment name %q: must not contain a path separator", name)
	case strings.HasPrefix(name, "."):
		return fmt.Errorf("invalid segment name %q: must not begin with '.'", name)
	}
	return nil
}

// listedName reports whether a directory entry with this name may be listed
// as a segment or gap: temporary and hidden files never are.
func listedName(name, suffix string) bool {
	return !strings.HasPrefix(name, ".") && strings.HasSuffix(name, suffix) && len(name) > len(suffix)
}
