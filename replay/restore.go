package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/tidelog/tidelog/catalog"
	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/segment"
	"github.com/tidelog/tidelog/store"
)

// RestoreOptions say what to restore where.
type RestoreOptions struct {
	// Stream to restore; empty is fine when the store holds exactly one.
	Stream string
	// To is the last position to include (inclusive); oplog.Max: the latest restorable.
	To oplog.Timestamp
	// Drop lets the restore replace namespaces the target already holds.
	Drop bool
	// Apply selects, renames and filters what is written.
	Apply Options
}

// RestoreResult reports a finished restore.
type RestoreResult struct {
	Stream     string
	To         oplog.Timestamp // the position the target now reflects
	Segments   int
	Namespaces []string
	Stats      Stats
}

// WindowError says the requested position is outside what can be restored.
type WindowError struct {
	Stream  string
	To      oplog.Timestamp
	Windows []catalog.Window
}

func (e *WindowError) Error() string {
	var b strings.Builder
	to := e.To.String()
	if e.To == oplog.Max {
		to = "latest"
	}
	fmt.Fprintf(&b, "stream %s: %s is outside the restorable window", e.Stream, to)
	if len(e.Windows) == 0 {
		b.WriteString("; the store holds no segments for it")
		return b.String()
	}
	fmt.Fprintf(&b, " %s..%s (inclusive)", e.Windows[0].From, e.Windows[0].To)
	for _, w := range e.Windows[1:] {
		fmt.Fprintf(&b, "; %s..%s lies after a gap and needs a base snapshot", w.From, w.To)
	}
	return b.String()
}

// ConflictError says the target already holds namespaces the restore would write.
type ConflictError struct{ Namespaces []string }

func (e *ConflictError) Error() string {
	return fmt.Sprintf("the target already holds %s; restore into an empty target or pass --drop to replace them",
		strings.Join(e.Namespaces, ", "))
}

// Restore replays a stream from the start of capture through opts.To onto
// the target. It first reads and verifies every segment it needs (checksums
// and chain links) and checks the target, so a damaged store or an occupied
// target fails before the first write.
func Restore(ctx context.Context, st store.Store, target *mongo.Client, opts RestoreOptions, log zerolog.Logger) (RestoreResult, error) {
	s, err := pickStream(ctx, st, opts.Stream)
	if err != nil {
		return RestoreResult{}, err
	}
	w, ok := s.Restorable()
	to := opts.To
	if ok && to == oplog.Max {
		to = w.To
	}
	if !ok || to.Before(w.From) || to.After(w.To) {
		return RestoreResult{}, &WindowError{Stream: s.Name, To: opts.To, Windows: s.Windows}
	}
	var segs []catalog.Segment
	for _, seg := range s.Segments[w.First : w.Last+1] {
		if seg.Header.OpStart.After(to) {
			break
		}
		segs = append(segs, seg)
	}
	res := RestoreResult{Stream: s.Name, To: to, Segments: len(segs)}
	log = log.With().Str("stream", s.Name).Stringer("to", to).Logger()

	log.Info().Int("segments", len(segs)).Msg("verifying segments before writing anything")
	src := func(fn func(bson.Raw) error) error { return readSegments(ctx, st, s.Name, segs, to, fn) }
	existing := Refuse
	if opts.Drop {
		existing = Drop
	}
	res.Stats, res.Namespaces, err = Replay(ctx, src, target, opts.Apply, existing, log)
	if err != nil {
		return res, err
	}
	log.Info().Uint64("entries", res.Stats.Entries).Stringer("applied", res.Stats.Applied).Msg("restore complete")
	return res, nil
}

func pickStream(ctx context.Context, st store.Store, name string) (*catalog.Stream, error) {
	if name != "" {
		return catalog.LoadStream(ctx, st, name)
	}
	names, err := st.Streams(ctx)
	if err != nil {
		return nil, fmt.Errorf("list streams in %s: %w", st, err)
	}
	switch len(names) {
	case 0:
		return nil, fmt.Errorf("store %s holds no streams yet: has tailerd cut a segment?", st)
	case 1:
		return catalog.LoadStream(ctx, st, names[0])
	}
	return nil, fmt.Errorf("store %s holds streams %s: choose one with --stream", st, strings.Join(names, ", "))
}

// readSegments streams the entries with ts <= to of segs, in order, verifying
// each segment in full and its link to the one before.
func readSegments(ctx context.Context, st store.Store, stream string, segs []catalog.Segment, to oplog.Timestamp, fn func(bson.Raw) error) error {
	var prev *segment.Info
	for _, seg := range segs {
		info, err := readSegment(ctx, st, stream, seg.Name, to, fn)
		if err != nil {
			return err
		}
		if prev != nil && info.Prev != prev.Link() {
			return fmt.Errorf("segment %s does not link to %s (checksum mismatch): the store was altered; run `replayer verify`", seg.Name, prev.Name)
		}
		prev = &info
	}
	return nil
}

func readSegment(ctx context.Context, st store.Store, stream, name string, to oplog.Timestamp, fn func(bson.Raw) error) (segment.Info, error) {
	rc, err := st.OpenSegment(ctx, stream, name)
	if err != nil {
		return segment.Info{}, fmt.Errorf("open %s/%s: %w", stream, name, err)
	}
	defer rc.Close()
	r, err := segment.NewReader(rc, name)
	if err != nil {
		return segment.Info{}, err
	}
	for {
		if err := ctx.Err(); err != nil {
			return segment.Info{}, err
		}
		entry, err := r.Next()
		if errors.Is(err, io.EOF) {
			return r.Info(), nil
		}
		if err != nil {
			return segment.Info{}, err
		}
		ts, err := oplog.EntryTS(entry)
		if err != nil {
			return segment.Info{}, fmt.Errorf("segment %s: %w", name, err)
		}
		if ts.After(to) {
			// Keep reading: the rest of the segment is still verified.
			continue
		}
		if err := fn(entry); err != nil {
			return segment.Info{}, err
		}
	}
}
