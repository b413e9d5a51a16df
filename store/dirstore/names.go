package dirstore

import (
	"strings"

	"github.com/tidelog/tidelog/internal/durable"
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
	tempPrefix = durable.TempPrefix

	segmentSuffix = ".tseg"
	gapSuffix     = ".gap.json"
)

// listedName reports whether a directory entry with this name may be listed
// as a segment or gap: temporary and hidden files never are.
func listedName(name, suffix string) bool {
	return !strings.HasPrefix(name, ".") && strings.HasSuffix(name, suffix) && len(name) > len(suffix)
}
