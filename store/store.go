// Package store defines where tidelog keeps segments and gap records, and the
// errors every implementation returns. Implementations live in sub-packages
// (dirstore; object storage and Kafka later) and all pass storetest.
package store

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/tidelog/tidelog/oplog"
)

// SnapshotCommitFile is the snapshot file whose presence makes a snapshot
// complete (the snapshot package writes it last, as its manifest).
const SnapshotCommitFile = "manifest.json"

// ErrNotExist is returned (wrapped) when a segment or stream is not in the store.
var ErrNotExist = errors.New("does not exist")

// ErrNotStore is returned (wrapped) when a location holds data that is not a
// tidelog store, so that tidelog never writes into, or restores from, something else.
var ErrNotStore = errors.New("not a tidelog store")

// ErrUnavailable is matched (errors.Is) by the error of a store that gave
// up retrying a request it could not get answered, or that was answered
// "unavailable for now" (a connection refused or closed, a timeout, a 5xx):
// waiting may mend it, unlike an answer that says no.
var ErrUnavailable = errors.New("store unavailable")

// Gap records history that was lost: the oplog no longer reached back to
// After (the last position tidelog made durable) and the first entry still
// available was Next. Entries strictly between After and Next are unknown.
//
// A gap with Late set records an entry the source made visible only after
// the tailer had read past it (a server that shows oplog holes to readers):
// the segments up to After lack the entry at Late, so history from Late on
// is incomplete there; nothing after After is lost, and Next is the
// position just after After.
type Gap struct {
	After    oplog.Timestamp  `json:"after"`
	Next     oplog.Timestamp  `json:"next"`
	Detected time.Time        `json:"detected"`
	Reason   string           `json:"reason"`
	Late     *oplog.Timestamp `json:"late,omitempty"`
}

// Store keeps segments and gaps of many streams. Every method is safe for
// concurrent use.
//
// Invariant: when PutSegment returns nil the segment is durable and complete
// under its name; before that, readers never see it, not even partially.
// Writing the same name again with the same bytes is harmless (segments are
// named by their range, so a retry after a crash rewrites the same object).
type Store interface {
	// PutSegment stores data as segment name of stream, durably.
	PutSegment(ctx context.Context, stream, name string, data []byte) error
	// OpenSegment returns the segment's bytes as a stream; the caller closes it.
	OpenSegment(ctx context.Context, stream, name string) (io.ReadCloser, error)
	// Segments lists the names of stream's segments in ascending order.
	Segments(ctx context.Context, stream string) ([]string, error)
	// DeleteSegment removes a segment; deleting a missing one is not an error.
	DeleteSegment(ctx context.Context, stream, name string) error
	// PutGap records a gap of stream durably.
	PutGap(ctx context.Context, stream string, gap Gap) error
	// Gaps lists stream's gaps ordered by After.
	Gaps(ctx context.Context, stream string) ([]Gap, error)
	// Streams lists the streams that have segments, gaps or snapshots, sorted.
	Streams(ctx context.Context) ([]string, error)

	// Snapshot files. A snapshot is a set of named files under an ID in a
	// stream. The store knows nothing of their meaning: the snapshot package
	// writes a manifest last and treats a snapshot without a valid one as
	// incomplete. IDs and file names are made of [A-Za-z0-9._-] and do not
	// begin with '.'.

	// PutSnapshotFile stores r's bytes as file name of snapshot id, durably
	// and atomically (readers see no file or all of it), and returns the
	// number of bytes written. Putting a name again replaces the file.
	PutSnapshotFile(ctx context.Context, stream, id, name string, r io.Reader) (int64, error)
	// OpenSnapshotFile returns a stored snapshot file; the caller closes it.
	// A missing file or snapshot yields an error wrapping ErrNotExist.
	OpenSnapshotFile(ctx context.Context, stream, id, name string) (io.ReadCloser, error)
	// SnapshotFiles lists the files of snapshot id, sorted (empty if none).
	SnapshotFiles(ctx context.Context, stream, id string) ([]string, error)
	// Snapshots lists stream's snapshot IDs, sorted, complete or not.
	Snapshots(ctx context.Context, stream string) ([]string, error)
	// DeleteSnapshot removes a snapshot and its files; a missing one is not
	// an error. SnapshotCommitFile goes first (or all at once): a delete cut
	// short must leave an incomplete snapshot, never a manifest whose files
	// are partly gone.
	DeleteSnapshot(ctx context.Context, stream, id string) error
	// String names the store for messages (e.g. "dir:/var/lib/tidelog/store").
	String() string
}
