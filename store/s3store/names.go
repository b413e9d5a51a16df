package s3store

import (
	"fmt"
	"strings"
)

// Layout names, relative to the store's prefix. See docs/store-layout.md.
const (
	markerName    = "tidelog-store.json"
	streamsDir    = "streams/"
	segmentsDir   = "segments/"
	gapsDir       = "gaps/"
	snapshotsDir  = "snapshots/"
	segmentSuffix = ".tseg"
	gapSuffix     = ".gap.json"
)

// The names are checked exactly as dirstore checks them, so that a store can
// be copied between a directory and a bucket (e.g. with `mc mirror`) and
// means the same in both.

// validStream checks a stream name: [A-Za-z0-9._-], not "." or "..". Such a
// name is one key segment and cannot reach outside its stream.
func validStream(stream string) error {
	if stream == "" || stream == "." || stream == ".." {
		return fmt.Errorf("invalid stream name %q", stream)
	}
	if !plainName(stream) {
		return fmt.Errorf("invalid stream name %q: only letters, digits, '.', '_' and '-' are allowed", stream)
	}
	return nil
}

// validSegment checks a segment name: it ends with ".tseg", has something
// before that, holds no separator or NUL, and does not begin with '.'.
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

// validSnapshotPart checks a snapshot ID or file name: [A-Za-z0-9._-], not
// empty and not beginning with '.'.
func validSnapshotPart(what, v string) error {
	if v == "" || strings.HasPrefix(v, ".") {
		return fmt.Errorf("invalid snapshot %s %q: empty or begins with '.'", what, v)
	}
	if !plainName(v) {
		return fmt.Errorf("invalid snapshot %s %q: only letters, digits, '.', '_' and '-' are allowed", what, v)
	}
	return nil
}

func plainName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// listedName reports whether an object name (the part after its "directory")
// may be listed with suffix: no hidden names, no deeper keys.
func listedName(name, suffix string) bool {
	return !strings.HasPrefix(name, ".") && !strings.Contains(name, "/") &&
		strings.HasSuffix(name, suffix) && len(name) > len(suffix)
}

// Keys. Every key begins with the store's prefix.

func (s *Store) markerKey() string              { return s.prefix + markerName }
func (s *Store) streamsKey() string             { return s.prefix + streamsDir }
func (s *Store) streamKey(stream string) string { return s.prefix + streamsDir + stream + "/" }
func (s *Store) segmentsKey(stream string) string {
	return s.streamKey(stream) + segmentsDir
}
func (s *Store) gapsKey(stream string) string      { return s.streamKey(stream) + gapsDir }
func (s *Store) snapshotsKey(stream string) string { return s.streamKey(stream) + snapshotsDir }
func (s *Store) snapshotKey(stream, id string) string {
	return s.snapshotsKey(stream) + id + "/"
}
