package s3store

import (
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
