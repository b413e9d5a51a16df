package cycle

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/tidelog/tidelog/catalog"
	"github.com/tidelog/tidelog/crypt"
	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/segment"
	"github.com/tidelog/tidelog/store"
)

// EncryptionStart tells where a stream's encryption began: the start of
// its first encrypted segment (catalog.Stream.EncryptedFrom). "Once
// encrypted, always encrypted": a plaintext snapshot that starts there or
// later is forged, or taken by a tailerd without its key, and must not be
// counted (snapshot.ReadOptions.SegmentsEncryptedFrom).
//
// Loading the catalog for it reads the header of every segment of the
// stream, which the schedule and the snapshot metrics would do every pass.
// An EncryptionStart reads each header at most once, and none at all once
// it has found an encrypted segment: where encryption began stays true
// however the store changes later (pruning only removes the evidence),
// and it can only be found in a segment published since the last look.
// When the writer has no key, no segment published after the first look
// can be encrypted (the tailer refuses to continue an encrypted stream
// without its key), so later looks read nothing.
//
// Safe for concurrent use.
type EncryptionStart struct {
	st     store.Store
	stream string
	keyed  bool // the stream's segments are now written encrypted

	mu sync.Mutex
	// from is the start of the first encrypted segment seen; zero: none yet.
	from oplog.Timestamp
	// looked: the stream's segments were listed, or their catalog noted.
	looked bool
	// plain names, in order, the segments read (or noted) and found
	// plaintext while from is zero and the writer is keyed: the next look
	// reads the others only. The names themselves, not "all up to the
	// last one read": a plaintext segment forged with a name past the
	// stream's newest would hide every encrypted segment published after
	// it, and a forged plaintext snapshot would count.
	plain []string
}

// NewEncryptionStart tracks stream in st. keys are those new segments of
// the stream are written with (tailerd's); nil: they are written in
// plaintext.
func NewEncryptionStart(st store.Store, stream string, keys *crypt.Keyring) *EncryptionStart {
	return &EncryptionStart{st: st, stream: stream, keyed: keys.Len() > 0}
}

// Stream is the stream tracked.
func (e *EncryptionStart) Stream() string { return e.stream }

// From returns where the stream's encryption began; zero while none of its
// segments is encrypted. It reads the headers of the segments it has not
// read before only, and nothing once the answer is known.
func (e *EncryptionStart) From(ctx context.Context) (oplog.Timestamp, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.from.IsZero() || e.looked && !e.keyed {
		return e.from, nil
	}
	names, err := e.st.Segments(ctx, e.stream)
	if err != nil {
		return oplog.Timestamp{}, fmt.Errorf("list segments of %s in %s: %w", e.stream, e.st, err)
	}
	for i, name := range names {
		if _, ok := slices.BinarySearch(e.plain, name); ok {
			continue
		}
		h, err := e.header(ctx, name)
		if err != nil {
			e.keepRead(names[:i])
			return oplog.Timestamp{}, err
		}
		if h.Encrypted {
			e.from = h.OpStart
			break
		}
	}
	e.plain = nil
	if e.from.IsZero() && e.keyed {
		e.plain = names // all read, all plaintext; pruned ones drop out
	}
	e.looked = true
	return e.from, nil
}

// keepRead records, after a look that failed, that read (names listed
// before the failure) are plaintext, so that the next look does not read
// them again.
func (e *EncryptionStart) keepRead(read []string) {
	if len(read) == 0 {
		return
	}
	j, found := slices.BinarySearch(e.plain, read[len(read)-1])
	if found {
		j++
	}
	e.plain = append(slices.Clip(read), e.plain[j:]...)
}

// Note takes what a freshly loaded catalog of the stream shows, so that
// the next From reads nothing it covers. An earlier start than the one
// known wins: encryption began there.
func (e *EncryptionStart) Note(cat *catalog.Stream) {
	if cat.Name != e.stream {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if from, ok := cat.EncryptedFrom(); ok && (e.from.IsZero() || from.Before(e.from)) {
		e.from = from
	}
	e.plain = nil
	if e.from.IsZero() && e.keyed {
		e.plain = make([]string, len(cat.Segments))
		for i, seg := range cat.Segments {
			e.plain[i] = seg.Name
		}
	}
	e.looked = true
}

func (e *EncryptionStart) header(ctx context.Context, name string) (segment.Header, error) {
	rc, err := e.st.OpenSegment(ctx, e.stream, name)
	if err != nil {
		return segment.Header{}, fmt.Errorf("open %s/%s in %s: %w", e.stream, name, e.st, err)
	}
	defer rc.Close()
	h, _, err := segment.ReadHeader(rc)
	if err != nil {
		return segment.Header{}, fmt.Errorf("%s/%s in %s: %w", e.stream, name, e.st, err)
	}
	return h, nil
}
