package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/catalog"
	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/segment"
	"github.com/tidelog/tidelog/store"
)

// exportCmd writes the entries of a range of the store's history, exactly as
// captured, to a plain oplog.bson: concatenated BSON that mongorestore
// --oplogReplay --oplogFile, replayer apply or any BSON reader takes.
//
// The range is (--from, --to]: after --from, through --to. --from is
// exclusive so that consecutive exports (A, B], (B, C] chain without
// overlap, and so that a base copy taken at --from is continued by exactly
// the entries it lacks; without --from the range starts at the start of
// capture, first entry included. As everywhere, T (a whole second) means
// the last entry of that second: --from T leaves that second out, --to T
// takes it in. --to defaults to the end of the window --from lies in.
func exportCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf storeFlags
	sf.register(fs)
	stream := fs.String("stream", "", "stream to export (needed when the store holds several)")
	fromFlag := fs.String("from", "", "export the entries after this position (exclusive; default: from the start of capture)")
	toFlag := fs.String("to", "latest", "export through this position (inclusive): T.I, T, RFC 3339 or latest (the end of --from's window)")
	out := fs.String("out", "", "file to write (required); written to a temporary file beside it and renamed when complete")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return coded(exitUsage, errors.New("--out is required"))
	}
	var from *oplog.Timestamp
	if *fromFlag != "" {
		ts, err := oplog.Parse(*fromFlag)
		if err != nil {
			return coded(exitUsage, fmt.Errorf("--from: %w", err))
		}
		from = &ts
	}
	to, err := parseTo(*toFlag)
	if err != nil {
		return err
	}
	if from != nil && to != oplog.Max && !to.After(*from) {
		return coded(exitUsage, fmt.Errorf("--to %s is not after --from %s: the range (--from, --to] is empty", to, *from))
	}
	st, keys, err := sf.open(ctx, stderr)
	if err != nil {
		return err
	}
	defer closeStore(st)
	s, err := exportStream(ctx, st, *stream)
	if err != nil {
		return err
	}
	segs, to, err := exportRange(s, from, to)
	if err != nil {
		return coded(exitWindow, err)
	}
	res, err := writeExport(ctx, st, s.Name, segs, keys.segments(), from, to, *out)
	if code, ok := keyErrorCode(err); ok {
		return coded(code, fmt.Errorf("%w; nothing was written to %s", err, *out))
	}
	if errors.Is(err, segment.ErrCorrupt) {
		return coded(exitDamaged, fmt.Errorf("%w; nothing was written to %s; run `replayer verify --store %s` for a full report", err, *out, sf.store))
	}
	if err != nil {
		return err
	}
	lower := "the start of capture"
	if from != nil {
		lower = from.String() + " (exclusive)"
	}
	fmt.Fprintf(stdout, "exported %d entries (%d bytes) of stream %s, from %s through %s, read from %d verified segments, to %s\n",
		res.entries, res.bytes, s.Name, lower, to, len(segs), *out)
	if res.entries > 0 {
		fmt.Fprintf(stdout, "  first entry %s, last entry %s\n", res.first, res.last)
	}
	return nil
}

// exportStream loads the catalog of the stream to export.
func exportStream(ctx context.Context, st store.Store, name string) (*catalog.Stream, error) {
	if name == "" {
		names, err := st.Streams(ctx)
		if err != nil {
			return nil, fmt.Errorf("list streams in %s: %w", st, err)
		}
		switch len(names) {
		case 0:
			return nil, fmt.Errorf("store %s holds no streams yet: has tailerd cut a segment?", st)
		case 1:
			name = names[0]
		default:
			return nil, coded(exitUsage, fmt.Errorf("store %s holds streams %s: choose one with --stream", st, strings.Join(names, ", ")))
		}
	}
	s, err := catalog.LoadStream(ctx, st, name)
	if errors.Is(err, segment.ErrCorrupt) {
		return nil, coded(exitDamaged, err)
	}
	return s, err
}

// rangeError says the range to export is not inside one window of
// unbroken history.
type rangeError struct {
	stream  string
	from    *oplog.Timestamp
	to      oplog.Timestamp
	windows []catalog.Window
	breaks  []catalog.Break
}

func (e *rangeError) Error() string {
	var b strings.Builder
	to := e.to.String()
	if e.to == oplog.Max {
		to = "latest"
	}
	if e.from == nil {
		fmt.Fprintf(&b, "stream %s: cannot export from the start of capture through %s", e.stream, to)
	} else {
		fmt.Fprintf(&b, "stream %s: cannot export (%s, %s]", e.stream, e.from, to)
	}
	b.WriteString(": an export must lie inside one window of unbroken history (or start at the start of capture, in the first)")
	if len(e.windows) == 0 {
		b.WriteString(", and the store holds no segments for this stream")
		return b.String()
	}
	b.WriteString("; the store holds ")
	for i, w := range e.windows {
		if i > 0 {
			b.WriteString("; ")
			if i-1 < len(e.breaks) && e.breaks[i-1].Gap == nil {
				b.WriteString("after a break no gap record explains (run `replayer verify`), ")
			} else {
				b.WriteString("after a gap, ")
			}
		}
		fmt.Fprintf(&b, "%s..%s (inclusive, %d entries)", w.From, w.To, w.Entries)
	}
	return b.String()
}

// exportRange finds the window that holds (from, to] (from nil: the first
// window, from its first entry) and the segments of it that hold entries of
// the range. It resolves to = latest to the window's end.
func exportRange(s *catalog.Stream, from *oplog.Timestamp, to oplog.Timestamp) ([]catalog.Segment, oplog.Timestamp, error) {
	fail := &rangeError{stream: s.Name, from: from, to: to, windows: s.Windows, breaks: s.Breaks}
	var w catalog.Window
	found := false
	for _, cand := range s.Windows {
		if from == nil || (!from.Before(cand.From) && !from.After(cand.To)) {
			w, found = cand, true
			break
		}
	}
	if !found {
		return nil, to, fail
	}
	if from == nil && !s.Segments[w.First].Header.Prev.IsZero() {
		// The first segment left continues one that was pruned: the start of
		// capture is gone, and a file "from the start" would silently lack
		// everything before it.
		return nil, to, fail
	}
	if to == oplog.Max {
		to = w.To
	}
	if to.After(w.To) || (from == nil && to.Before(w.From)) {
		return nil, to, fail
	}
	var segs []catalog.Segment
	for _, seg := range s.Segments[w.First : w.Last+1] {
		h := seg.Header
		if from != nil && !h.OpEnd.After(*from) {
			continue // wholly at or before --from
		}
		if h.OpStart.After(to) {
			break
		}
		segs = append(segs, seg)
	}
	return segs, to, nil
}

type exportResult struct {
	entries     int64
	bytes       int64
	first, last oplog.Timestamp
}

// writeExport writes the range's entries to a temporary file beside out,
// byte for byte as stored, and renames it to out only once every segment
// read verified: a damaged segment leaves no file, and out is never seen
// half written.
func writeExport(ctx context.Context, st store.Store, stream string, segs []catalog.Segment, read segment.ReaderOptions, from *oplog.Timestamp, to oplog.Timestamp, out string) (exportResult, error) {
	var res exportResult
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-*")
	if err != nil {
		return res, fmt.Errorf("--out: %w", err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	w := bufio.NewWriterSize(tmp, 1<<20)
	err = catalog.ReadWith(ctx, st, stream, segs, read, func(entry bson.Raw) error {
		ts, err := oplog.EntryTS(entry)
		if err != nil {
			return err
		}
		if (from != nil && !ts.After(*from)) || ts.After(to) {
			return nil
		}
		if _, err := w.Write(entry); err != nil {
			return fmt.Errorf("write %s: %w", tmp.Name(), err)
		}
		if res.entries == 0 {
			res.first = ts
		}
		res.entries++
		res.bytes += int64(len(entry))
		res.last = ts
		return nil
	})
	if err != nil {
		return res, err
	}
	if err := w.Flush(); err != nil {
		return res, fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return res, fmt.Errorf("sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return res, fmt.Errorf("close %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return res, fmt.Errorf("--out: %w", err)
	}
	done = true
	if dir, err := os.Open(filepath.Dir(out)); err == nil {
		// Make the rename durable; a directory that cannot be synced (some
		// file systems) leaves the file complete either way.
		dir.Sync()
		dir.Close()
	}
	return res, nil
}
