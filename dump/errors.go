package dump

import "fmt"

// ReadError reports a dump that cannot be read: damaged, truncated or not
// in the expected format. Offset is the byte offset, in the decompressed
// stream, of the item (document, header, terminator) that failed.
type ReadError struct {
	Source string // the file, or "archive"
	Offset int64
	What   string // what was wrong, for a person
	Err    error  // the underlying cause, if any (io.ErrUnexpectedEOF for truncation)
}

func (e *ReadError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: byte %d: %s: %v", e.Source, e.Offset, e.What, e.Err)
	}
	return fmt.Sprintf("%s: byte %d: %s", e.Source, e.Offset, e.What)
}

func (e *ReadError) Unwrap() error { return e.Err }
