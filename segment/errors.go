package segment

import (
	"errors"
	"strconv"

	"github.com/tidelog/tidelog/crypt"
)

// ErrCorrupt is matched (errors.Is) by every error that reports a damaged,
// truncated, renamed or otherwise inconsistent segment. Such a segment must
// not be restored from; the error is a *CorruptError with the details.
var ErrCorrupt = errors.New("segment corrupt")

// ErrUnsupported is matched (errors.Is) by the error for an intact segment
// written in a format this build of tidelog does not know (a newer format
// version, codec or flag). The segment is fine; tidelog must be upgraded.
var ErrUnsupported = errors.New("unsupported segment format")

// ErrKeyRequired is matched (errors.Is) by the error for an encrypted
// segment read without keys; the error (a *crypt.KeyError) names the
// segment and its key id. The segment may be fine. It is crypt.ErrKeyRequired.
var ErrKeyRequired = crypt.ErrKeyRequired

// ErrWrongKey is matched (errors.Is) by the error for an encrypted segment
// whose key is not among those given; the error (a *crypt.KeyError) names
// the segment, its key id and the ids given. It is crypt.ErrWrongKey.
var ErrWrongKey = crypt.ErrWrongKey

// ErrNotEncrypted is matched (errors.Is) by the error for a plaintext
// segment read with ReaderOptions.RequireEncryption. It is
// crypt.ErrNotEncrypted.
var ErrNotEncrypted = crypt.ErrNotEncrypted

// ErrInvalidEntry is matched (errors.Is) by Writer.Append's error for an
// entry that is not a well-formed BSON oplog entry with a ts.
var ErrInvalidEntry = errors.New("invalid oplog entry")

// ErrOutOfOrder is matched (errors.Is) by Writer.Append's error for an entry
// whose ts is not strictly after the previous entry's (or, for the first
// entry, after the Link the segment was started with).
var ErrOutOfOrder = errors.New("oplog entry out of order")

// CorruptError reports where and why a segment failed verification.
//
// Offset is the number of bytes of the file consumed when the problem was
// detected. For a region protected by a checksum (the header, one lz4 block,
// the whole file) that is the end of the region; for a field, the field's
// start. Problems found in decompressed entries also name the entry and its
// raw (uncompressed) offset in Reason.
type CorruptError struct {
	Segment string // segment name; empty if not known yet
	Offset  int64  // byte offset in the file, see above
	Reason  string // what is wrong, for people
	Err     error  // underlying cause (e.g. an lz4 error), or nil
}

func (e *CorruptError) Error() string {
	s := "segment " + e.Segment
	if e.Segment == "" {
		s = "segment"
	}
	s += ": corrupt at byte " + strconv.FormatInt(e.Offset, 10) + ": " + e.Reason
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// Unwrap returns the underlying cause, if any.
func (e *CorruptError) Unwrap() error { return e.Err }

// UnsupportedError reports an intact segment (its header checksum is valid)
// that uses a format feature this build does not implement.
type UnsupportedError struct {
	Segment string // segment name; empty if not known
	Feature string // e.g. "format version 2"
}

func (e *UnsupportedError) Error() string {
	s := "segment " + e.Segment
	if e.Segment == "" {
		s = "segment"
	}
	return s + ": " + e.Feature + " is not supported by this tidelog, which reads segment format version " +
		strconv.Itoa(int(FormatVersion)) + "; upgrade tidelog to read it"
}

// Is makes errors.Is(err, ErrUnsupported) true.
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupported }
