package diff

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Error kinds. Every error returned by this package is an *Error whose Kind
// is one of these, so callers can classify failures with errors.Is without
// parsing messages.
var (
	// ErrMalformedDiff: the diff does not follow the $v:2 delta format
	// (unknown or misordered section, duplicate field, bad array index, ...).
	// MongoDB never writes such a diff, so the oplog entry is corrupt or was
	// not produced by a server.
	ErrMalformedDiff = errors.New("malformed diff")

	// ErrInvalidBSON: the pre-image, the diff or the oplog 'o' field is not
	// a well-formed BSON document.
	ErrInvalidBSON = errors.New("invalid BSON")

	// ErrTooLarge: the post-image would exceed MaxDocumentSize, or nesting
	// exceeds MaxDepth. The server could not have produced such a document.
	ErrTooLarge = errors.New("document too large")

	// ErrNotDelta: ApplyOplogUpdate got an 'o' field that is not a
	// {$v: 2, diff: {...}} delta update (e.g. a replacement or a $v:1 update).
	ErrNotDelta = errors.New("not a $v:2 delta update")
)

// Error reports why a diff could not be applied and where.
//
// Path is the location of the offending field in the document being built,
// one element per level (array positions as decimal strings); it is empty
// when the problem is at the top level of the diff or of the document.
type Error struct {
	Path []string
	Kind error
	Msg  string
}

// Error formats as `diff: field "a.b": <msg>` (or `diff: <msg>` at the top).
func (e *Error) Error() string {
	if len(e.Path) == 0 {
		return "diff: " + e.Msg
	}
	return "diff: field " + strconv.Quote(strings.Join(e.Path, ".")) + ": " + e.Msg
}

// Unwrap returns the error kind, so errors.Is(err, ErrMalformedDiff) works.
func (e *Error) Unwrap() error { return e.Kind }

// newErr builds an *Error of the given kind with a formatted message and no
// path; callers on the way up add path segments with inField.
func newErr(kind error, format string, args ...any) error {
	return &Error{Kind: kind, Msg: kind.Error() + ": " + fmt.Sprintf(format, args...)}
}

// inField prefixes err's path with one segment (a field name or an array
// position). It only runs on the error path, so building the path costs
// nothing when applying succeeds.
func inField(err error, segment string) error {
	var e *Error
	if errors.As(err, &e) {
		e.Path = append([]string{segment}, e.Path...)
		return e
	}
	return err
}

// inIndex is inField for an array position.
func inIndex(err error, idx int) error {
	return inField(err, strconv.Itoa(idx))
}
