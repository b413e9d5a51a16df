package kafkastore

import (
	"fmt"
	"hash/crc32"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tidelog/tidelog/store"
)

// A record of the store is one frame. Its headers say what it is; its value
// is a slice of the object's bytes (empty for tombstones and for the final
// frame of a streamed snapshot file). The key "<kind>/<name>" is for people
// reading the topic with other tools; the store reads the headers.
const (
	hdrFormat  = "tidelog" // format version, formatVersion
	hdrKind    = "kind"    // kindSegment, kindGap, kindSnapshot or kindDelete
	hdrName    = "name"    // segment name, gap name, "<id>/<file>"; for a tombstone the deleted name or ID
	hdrAttempt = "attempt" // random per put: frames of one copy share it
	hdrFrame   = "frame"   // index of this frame in its copy, from 0
	hdrFrames  = "frames"  // frame count; on the final frame (and every segment frame)
	hdrSize    = "size"    // bytes of the whole object; with frames
	hdrCRC     = "crc32c"  // CRC-32C of the whole object, 8 hex digits; with frames
	hdrTarget  = "target"  // on a tombstone: kindSegment or kindSnapshot
)

// formatVersion is raised when the frame layout changes incompatibly; a
// newer one is refused rather than misread.
const formatVersion = "1"

const (
	kindSegment  = "segment"
	kindGap      = "gap"
	kindSnapshot = "snapshot"
	kindDelete   = "delete"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// frame is what a record's headers say.
type frame struct {
	kind    string
	name    string
	attempt string
	index   int
	// frames, size and crc are set (frames > 0) on the final frame of a
	// copy, and on every frame of a segment, whose size is known upfront.
	frames int
	size   int64
	crc    uint32
	target string // tombstones only
}

// final reports whether f closes its copy.
func (f frame) final() bool { return f.frames > 0 && f.index == f.frames-1 }

// record makes the record of f with value v for topic, always partition 0.
func (f frame) record(topic string, v []byte) *kgo.Record {
	h := []kgo.RecordHeader{
		{Key: hdrFormat, Value: []byte(formatVersion)},
		{Key: hdrKind, Value: []byte(f.kind)},
		{Key: hdrName, Value: []byte(f.name)},
	}
	if f.kind == kindDelete {
		h = append(h, kgo.RecordHeader{Key: hdrTarget, Value: []byte(f.target)})
	} else {
		h = append(h,
			kgo.RecordHeader{Key: hdrAttempt, Value: []byte(f.attempt)},
			kgo.RecordHeader{Key: hdrFrame, Value: strconv.AppendInt(nil, int64(f.index), 10)})
	}
	if f.frames > 0 {
		h = append(h,
			kgo.RecordHeader{Key: hdrFrames, Value: strconv.AppendInt(nil, int64(f.frames), 10)},
			kgo.RecordHeader{Key: hdrSize, Value: strconv.AppendInt(nil, f.size, 10)},
			kgo.RecordHeader{Key: hdrCRC, Value: fmt.Appendf(nil, "%08x", f.crc)})
	}
	return &kgo.Record{Topic: topic, Partition: 0, Key: []byte(f.kind + "/" + f.name), Value: v, Headers: h}
}

// frameOverhead bounds what a frame's batch spends beside the value: the
// batch header (61 bytes, and 12 of offset and length), the record's
// varints, the key and every header at its widest (about 150 bytes of fixed
// keys and numbers), with room to spare.
func frameOverhead(kind, name string) int {
	return 512 + 2*(len(kind)+1+len(name))
}

// payloadBytes is how many bytes of an object fit in one frame of kind and
// name, or an error if the name leaves too little room.
func (s *Store) payloadBytes(kind, name string) (int, error) {
	n := s.cfg.MaxMessageBytes - frameOverhead(kind, name)
	if n < minMessageBytes/2 {
		return 0, fmt.Errorf("name %q too long for MaxMessageBytes %d", name, s.cfg.MaxMessageBytes)
	}
	return n, nil
}

// parseFrame reads the headers of r. A record without the format header is
// not a tidelog frame and one with a newer format is not readable by this
// tidelog: both are store.ErrNotStore, so a restore never reads garbage.
func parseFrame(r *kgo.Record) (frame, error) {
	var f frame
	var version, index, frames, size, crc string
	var seen bool
	for _, h := range r.Headers {
		v := string(h.Value)
		switch h.Key {
		case hdrFormat:
			version, seen = v, true
		case hdrKind:
			f.kind = v
		case hdrName:
			f.name = v
		case hdrAttempt:
			f.attempt = v
		case hdrFrame:
			index = v
		case hdrFrames:
			frames = v
		case hdrSize:
			size = v
		case hdrCRC:
			crc = v
		case hdrTarget:
			f.target = v
		}
	}
	bad := func(why string) (frame, error) {
		return frame{}, fmt.Errorf("record at offset %d is not a tidelog frame (%s): %w", r.Offset, why, store.ErrNotStore)
	}
	if !seen {
		return bad("no " + hdrFormat + " header")
	}
	if version != formatVersion {
		return frame{}, fmt.Errorf("record at offset %d has frame format %q, this tidelog reads %s; upgrade tidelog: %w",
			r.Offset, version, formatVersion, store.ErrNotStore)
	}
	if f.name == "" {
		return bad("no name")
	}
	switch f.kind {
	case kindDelete:
		if f.target != kindSegment && f.target != kindSnapshot {
			return bad("tombstone of unknown target " + strconv.Quote(f.target))
		}
		return f, nil
	case kindSegment, kindGap, kindSnapshot:
	default:
		return bad("unknown kind " + strconv.Quote(f.kind))
	}
	var err error
	if f.attempt == "" {
		return bad("no attempt")
	}
	if f.index, err = strconv.Atoi(index); err != nil || f.index < 0 {
		return bad("frame index " + strconv.Quote(index))
	}
	if frames == "" {
		return f, nil
	}
	c, cerr := strconv.ParseUint(crc, 16, 32)
	n, serr := strconv.ParseInt(size, 10, 64)
	f.frames, err = strconv.Atoi(frames)
	f.size = n
	if err != nil || cerr != nil || serr != nil || f.frames <= f.index || f.size < 0 {
		return bad("frame count, size or checksum")
	}
	f.crc = uint32(c)
	return f, nil
}
