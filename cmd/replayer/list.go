package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tidelog/tidelog/catalog"
	"github.com/tidelog/tidelog/crypt"
	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/plan"
	"github.com/tidelog/tidelog/restore"
	"github.com/tidelog/tidelog/segment"
	"github.com/tidelog/tidelog/snapshot"
)

type listJSON struct {
	Streams []streamJSON `json:"streams"`
}

type streamJSON struct {
	Name string `json:"name"`
	// Restorable is the window reaching furthest (what --to latest uses);
	// RestorableWindows lists them all, each with its base.
	Restorable        *windowJSON    `json:"restorable,omitempty"`
	RestorableWindows []windowJSON   `json:"restorable_windows"`
	Snapshots         []snapshotJSON `json:"snapshots"`
	// IncompleteSnapshots have no manifest: interrupted; tailerd deletes
	// them at its next start.
	IncompleteSnapshots []string `json:"incomplete_snapshots"`
	// DamagedSnapshots have a manifest that fails its checksum,
	// authentication or consistency checks: not planned from, and kept
	// (replayer verify reports them as problems).
	DamagedSnapshots []unreadableJSON `json:"damaged_snapshots"`
	// UnreadableSnapshots could not be read with the keys given (or are
	// plaintext where encryption is required, or after the stream's
	// encryption began): not planned from.
	UnreadableSnapshots []unreadableJSON `json:"unreadable_snapshots"`
	// KeyIDs are the keys the stream's segments and readable snapshots
	// are encrypted with; empty: none is encrypted.
	KeyIDs []string `json:"key_ids"`
	// Windows are the unbroken chains of segments (gaps break them).
	Windows  []windowJSON  `json:"windows"`
	Gaps     []gapJSON     `json:"gaps"`
	Segments []segmentJSON `json:"segments"`
}

type snapshotJSON struct {
	ID          string    `json:"id"`
	Start       string    `json:"start"`
	End         string    `json:"end"`
	Taken       time.Time `json:"taken"`
	Finished    time.Time `json:"finished"`
	Collections int       `json:"collections"`
	Docs        int64     `json:"docs"`
	Bytes       int64     `json:"raw_bytes"`
	StoredBytes int64     `json:"stored_bytes"`
	KeyID       string    `json:"key_id,omitempty"` // empty: not encrypted
}

type unreadableJSON struct {
	ID    string `json:"id"`
	KeyID string `json:"key_id,omitempty"` // the key it needs, when that is why
	Error string `json:"error"`
}

type windowJSON struct {
	From    string `json:"from"`
	To      string `json:"to"`
	Entries uint64 `json:"entries,omitempty"`
	// Base is "start of capture" or "snapshot <id>" (restorable windows only).
	Base string `json:"base,omitempty"`
}

type gapJSON struct {
	After    string    `json:"after"`
	Next     string    `json:"next"`
	Detected time.Time `json:"detected"`
}

type segmentJSON struct {
	Name    string `json:"name"`
	From    string `json:"from"`
	To      string `json:"to"`
	Entries uint64 `json:"entries"`
	RawSize uint64 `json:"raw_bytes"`
	KeyID   string `json:"key_id,omitempty"` // empty: not encrypted
}

func listCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf storeFlags
	sf.register(fs)
	asJSON := fs.Bool("json", false, "print JSON for scripts")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	st, keys, err := sf.open(ctx, stderr)
	if err != nil {
		return err
	}
	defer closeStore(st)
	streams, err := catalog.Load(ctx, st)
	if errors.Is(err, segment.ErrCorrupt) {
		return coded(exitDamaged, err)
	}
	if err != nil {
		return err
	}
	out := listJSON{Streams: []streamJSON{}}
	views := make([]streamView, len(streams))
	for i, s := range streams {
		l, err := snapshot.ListWith(ctx, st, s.Name, snapshotsOf(keys, s))
		if err != nil {
			return fmt.Errorf("list snapshots of %s: %w", s.Name, err)
		}
		views[i] = streamView{Stream: s, snaps: l.Complete, incomplete: l.Incomplete, damaged: l.Damaged, unreadable: l.Unreadable,
			windows: plan.Windows(s, restore.Bases(l.Complete))}
		out.Streams = append(out.Streams, views[i].toJSON())
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if len(streams) == 0 {
		fmt.Fprintln(stdout, "the store holds no segments yet")
	}
	for _, v := range views {
		v.print(stdout)
	}
	return nil
}

// streamView is one stream as list shows it: its catalog, its snapshots and
// the windows they make restorable.
type streamView struct {
	*catalog.Stream
	snaps      []*snapshot.Manifest
	incomplete []string
	damaged    []snapshot.Unreadable
	unreadable []snapshot.Unreadable
	windows    []plan.Window
}

// keyIDs are the keys the stream's segments and readable snapshots are
// encrypted with, in order of first use, and how many segments are not
// encrypted.
func (v streamView) keyIDs() (ids []string, plain int) {
	seen := map[string]bool{}
	note := func(encrypted bool, id crypt.KeyID) {
		if encrypted && !seen[id.String()] {
			seen[id.String()] = true
			ids = append(ids, id.String())
		}
	}
	for _, seg := range v.Segments {
		note(seg.Header.Encrypted, seg.Header.KeyID)
		if !seg.Header.Encrypted {
			plain++
		}
	}
	for _, m := range v.snaps {
		note(m.Encrypted, m.KeyID)
	}
	return ids, plain
}

// keyName is an object's key id for JSON, empty when not encrypted.
func keyName(encrypted bool, id crypt.KeyID) string {
	if !encrypted {
		return ""
	}
	return id.String()
}

// latest is the window reaching furthest.
func (v streamView) latest() (plan.Window, bool) {
	if len(v.windows) == 0 {
		return plan.Window{}, false
	}
	best := v.windows[0]
	for _, w := range v.windows[1:] {
		if !w.To.Before(best.To) {
			best = w
		}
	}
	return best, true
}

func baseName(w plan.Window) string {
	if w.Base == nil {
		return "start of capture"
	}
	return "snapshot " + w.Base.ID
}

func (v streamView) toJSON() streamJSON {
	s := v.Stream
	j := streamJSON{Name: s.Name, Windows: []windowJSON{}, Gaps: []gapJSON{}, Segments: []segmentJSON{},
		RestorableWindows: []windowJSON{}, Snapshots: []snapshotJSON{}, IncompleteSnapshots: append([]string{}, v.incomplete...),
		DamagedSnapshots: []unreadableJSON{}, UnreadableSnapshots: []unreadableJSON{}}
	j.KeyIDs, _ = v.keyIDs()
	if j.KeyIDs == nil {
		j.KeyIDs = []string{}
	}
	for _, u := range v.unreadable {
		uj := unreadableJSON{ID: u.ID, Error: u.Err.Error()}
		var ke *crypt.KeyError
		if errors.As(u.Err, &ke) {
			uj.KeyID = ke.KeyID.String()
		}
		j.UnreadableSnapshots = append(j.UnreadableSnapshots, uj)
	}
	for _, d := range v.damaged {
		j.DamagedSnapshots = append(j.DamagedSnapshots, unreadableJSON{ID: d.ID, Error: d.Err.Error()})
	}
	for _, w := range s.Windows {
		j.Windows = append(j.Windows, windowJSON{From: w.From.String(), To: w.To.String(), Entries: w.Entries})
	}
	for _, w := range v.windows {
		j.RestorableWindows = append(j.RestorableWindows, windowJSON{From: w.From.String(), To: w.To.String(), Base: baseName(w)})
	}
	if w, ok := v.latest(); ok {
		j.Restorable = &windowJSON{From: w.From.String(), To: w.To.String(), Base: baseName(w)}
	}
	for _, m := range v.snaps {
		j.Snapshots = append(j.Snapshots, snapshotJSON{ID: m.ID, Start: m.Start.String(), End: m.End.String(), Taken: m.Taken, Finished: m.Finished,
			Collections: len(m.Collections), Docs: m.Docs, Bytes: m.Bytes, StoredBytes: m.StoredBytes, KeyID: keyName(m.Encrypted, m.KeyID)})
	}
	for _, g := range s.Gaps {
		j.Gaps = append(j.Gaps, gapJSON{After: g.After.String(), Next: g.Next.String(), Detected: g.Detected})
	}
	for _, seg := range s.Segments {
		h := seg.Header
		j.Segments = append(j.Segments, segmentJSON{Name: seg.Name, From: h.OpStart.String(), To: h.OpEnd.String(), Entries: h.Count, RawSize: h.RawSize,
			KeyID: keyName(h.Encrypted, h.KeyID)})
	}
	return j
}

func (v streamView) print(w io.Writer) {
	s := v.Stream
	unreadable := ""
	if n := len(v.unreadable) + len(v.damaged); n > 0 {
		unreadable = fmt.Sprintf(" (and %d unreadable or damaged: see below)", n)
	}
	fmt.Fprintf(w, "stream %s: %d segments, %d snapshots%s\n", s.Name, len(s.Segments), len(v.snaps), unreadable)
	switch ids, plain := v.keyIDs(); {
	case len(ids) == 0:
		fmt.Fprintln(w, "  encryption: none (segments and snapshots stored unencrypted)")
	case plain > 0:
		fmt.Fprintf(w, "  encryption: key(s) %s; %d older segments unencrypted\n", strings.Join(ids, ", "), plain)
	default:
		fmt.Fprintf(w, "  encryption: key(s) %s\n", strings.Join(ids, ", "))
	}
	if len(v.windows) == 0 {
		fmt.Fprintln(w, "  restorable: nothing yet")
	}
	for _, r := range v.windows {
		fmt.Fprintf(w, "  restorable: %s .. %s  (%s .. %s) from the %s\n", r.From, r.To, wall(r.From), wall(r.To), baseName(r))
	}
	for _, m := range v.snaps {
		enc := ""
		if m.Encrypted {
			enc = ", encrypted with key " + m.KeyID.String()
		}
		fmt.Fprintf(w, "  snapshot %s: start %s, end %s, %d collections, %d documents, %d bytes stored%s\n",
			m.ID, m.Start, m.End, len(m.Collections), m.Docs, m.StoredBytes, enc)
	}
	for _, u := range v.unreadable {
		fmt.Fprintf(w, "  UNREADABLE snapshot %s: not used for the windows above: %v\n", u.ID, u.Err)
	}
	for _, d := range v.damaged {
		fmt.Fprintf(w, "  DAMAGED snapshot %s: never restorable, and kept (tailerd does not delete it; run replayer verify): %v\n", d.ID, d.Err)
	}
	for _, id := range v.incomplete {
		fmt.Fprintf(w, "  INCOMPLETE snapshot %s: interrupted (no manifest), never restorable (tailerd deletes it at its next start)\n", id)
	}
	for _, b := range s.Breaks {
		switch {
		case b.Reason != "":
			fmt.Fprintf(w, "  BREAK: %s after %s: %s (run replayer verify)\n", b.Before, b.After, b.Reason)
		case b.Gap != nil:
			fmt.Fprintf(w, "  GAP: history lost after %s, resumed at %s (detected %s)\n", b.Gap.After, b.Gap.Next, b.Gap.Detected.Format(time.RFC3339))
		default:
			fmt.Fprintf(w, "  BREAK: %s does not follow %s and no gap is recorded (run replayer verify)\n", b.Before, b.After)
		}
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  SEGMENT\tFROM\tTO\tENTRIES\tRAW BYTES\tKEY")
	for _, seg := range s.Segments {
		h := seg.Header
		key := "-"
		if h.Encrypted {
			key = h.KeyID.String()
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%d\t%s\n", seg.Name, h.OpStart, h.OpEnd, h.Count, h.RawSize, key)
	}
	tw.Flush()
}

func wall(ts oplog.Timestamp) string { return ts.Time().Format(time.RFC3339) }
