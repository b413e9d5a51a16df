package snapshot

import (
	"errors"
	"strconv"
)

// ErrCorrupt is matched (errors.Is) by every error that reports a damaged,
// truncated, missing or inconsistent snapshot file or manifest. Such a
// snapshot must not be restored from; the error is a *CorruptError naming
// the file.
var ErrCorrupt = errors.New("snapshot corrupt")

// ErrUnsupported is matched (errors.Is) by the error for an intact manifest
// (its checksum holds) written in a format version this build does not
// know. The snapshot is fine; tidelog must be upgraded to read it.
var ErrUnsupported = errors.New("unsupported snapshot format")

// CorruptError reports which file of which snapshot failed verification and why.
type CorruptError struct {
	Stream string // stream of the snapshot
	ID     string // snapshot ID
	File   string // file name within the snapshot (the manifest or a data file)
	Reason string // what is wrong, for people
	Err    error  // underlying cause (e.g. an lz4 error), or nil
}

func (e *CorruptError) Error() string {
	s := "snapshot " + e.Stream + "/" + e.ID + ": file " + strconv.Quote(e.File) + " is corrupt: " + e.Reason
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// Unwrap returns the underlying cause, if any.
func (e *CorruptError) Unwrap() error { return e.Err }
