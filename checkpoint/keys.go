package checkpoint

import (
	"fmt"
	"strings"

	"github.com/tidelog/tidelog/oplog"
)

// Keys are printable text, so that a key named in an error can be found with
// Pebble's tools. '/' separates the parts, and stream names may not contain
// it (see validStream), so one stream's keys are never a prefix range of
// another's:
//
//	meta/format              format version of the checkpoint (formatValue)
//	stream/<stream>          the stream has had a commit or a gap (empty value)
//	head/<stream>            segment.Info of the stream's chain head
//	seg/<stream>/<T>.<I>     segment.Info of a committed segment; T.I is its OpStart
//	gap/<stream>/<T>.<I>     store.Gap recorded for the stream; T.I is its After
//
// T and I are zero-padded to 10 digits (the width of a uint32), so keys sort
// bytewise in timestamp order and an iterator yields segments and gaps in
// order.
const (
	formatKey     = "meta/format"
	streamsPrefix = "stream/"
	headPrefix    = "head/"
	segPrefix     = "seg/"
	gapPrefix     = "gap/"
)

// validStream checks that stream can be part of a key.
func validStream(stream string) error {
	switch {
	case stream == "":
		return fmt.Errorf("invalid stream name %q: empty", stream)
	case strings.ContainsAny(stream, "/\x00"):
		return fmt.Errorf("invalid stream name %q: must not contain '/' or NUL", stream)
	}
	return nil
}

func tsKey(ts oplog.Timestamp) string { return fmt.Sprintf("%010d.%010d", ts.T, ts.I) }

func streamKey(stream string) []byte { return []byte(streamsPrefix + stream) }

func headKey(stream string) []byte { return []byte(headPrefix + stream) }

func segKey(stream string, opStart oplog.Timestamp) []byte {
	return []byte(segPrefix + stream + "/" + tsKey(opStart))
}

func gapKey(stream string, after oplog.Timestamp) []byte {
	return []byte(gapPrefix + stream + "/" + tsKey(after))
}

// segRange and gapRange are the [lower, upper) bounds of one stream's
// segment and gap keys. '0' is the byte after '/', so upper is the first key
// past every "<prefix><stream>/..." key.
func segRange(stream string) (lower, upper []byte) {
	return []byte(segPrefix + stream + "/"), []byte(segPrefix + stream + "0")
}

func gapRange(stream string) (lower, upper []byte) {
	return []byte(gapPrefix + stream + "/"), []byte(gapPrefix + stream + "0")
}

// prefixRange returns the [lower, upper) bounds of every key with prefix,
// which must end in '/'.
func prefixRange(prefix string) (lower, upper []byte) {
	return []byte(prefix), []byte(prefix[:len(prefix)-1] + "0")
}
