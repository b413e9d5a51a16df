package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/tidelog/tidelog/catalog"
	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/segment"
)

type listJSON struct {
	Streams []streamJSON `json:"streams"`
}

type streamJSON struct {
	Name       string        `json:"name"`
	Restorable *windowJSON   `json:"restorable,omitempty"`
	Windows    []windowJSON  `json:"windows"`
	Gaps       []gapJSON     `json:"gaps"`
	Segments   []segmentJSON `json:"segments"`
}

type windowJSON struct {
	From    string `json:"from"`
	To      string `json:"to"`
	Entries uint64 `json:"entries"`
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
}

func listCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	storeDir := fs.String("store", "", "store directory written by tailerd (required)")
	asJSON := fs.Bool("json", false, "print JSON for scripts")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	st, err := openStore(ctx, *storeDir)
	if err != nil {
		return err
	}
	streams, err := catalog.Load(ctx, st)
	if errors.Is(err, segment.ErrCorrupt) {
		return coded(exitDamaged, err)
	}
	if err != nil {
		return err
	}
	out := listJSON{Streams: []streamJSON{}}
	for _, s := range streams {
		out.Streams = append(out.Streams, toJSON(s))
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if len(streams) == 0 {
		fmt.Fprintln(stdout, "the store holds no segments yet")
	}
	for _, s := range streams {
		printStream(stdout, s)
	}
	return nil
}

func toJSON(s *catalog.Stream) streamJSON {
	j := streamJSON{Name: s.Name, Windows: []windowJSON{}, Gaps: []gapJSON{}, Segments: []segmentJSON{}}
	for _, w := range s.Windows {
		j.Windows = append(j.Windows, windowJSON{From: w.From.String(), To: w.To.String(), Entries: w.Entries})
	}
	if w, ok := s.Restorable(); ok {
		j.Restorable = &windowJSON{From: w.From.String(), To: w.To.String(), Entries: w.Entries}
	}
	for _, g := range s.Gaps {
		j.Gaps = append(j.Gaps, gapJSON{After: g.After.String(), Next: g.Next.String(), Detected: g.Detected})
	}
	for _, seg := range s.Segments {
		h := seg.Header
		j.Segments = append(j.Segments, segmentJSON{Name: seg.Name, From: h.OpStart.String(), To: h.OpEnd.String(), Entries: h.Count, RawSize: h.RawSize})
	}
	return j
}

func printStream(w io.Writer, s *catalog.Stream) {
	fmt.Fprintf(w, "stream %s: %d segments\n", s.Name, len(s.Segments))
	if r, ok := s.Restorable(); ok {
		fmt.Fprintf(w, "  restorable: %s .. %s  (%s .. %s, %d entries)\n", r.From, r.To, wall(r.From), wall(r.To), r.Entries)
	}
	for _, x := range s.Windows[min(1, len(s.Windows)):] {
		fmt.Fprintf(w, "  after a gap: %s .. %s  (needs a base snapshot to restore)\n", x.From, x.To)
	}
	for _, b := range s.Breaks {
		if b.Gap != nil {
			fmt.Fprintf(w, "  GAP: history lost after %s, resumed at %s (detected %s)\n", b.Gap.After, b.Gap.Next, b.Gap.Detected.Format(time.RFC3339))
		} else {
			fmt.Fprintf(w, "  BREAK: %s does not follow %s and no gap is recorded (run replayer verify)\n", b.Before, b.After)
		}
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  SEGMENT\tFROM\tTO\tENTRIES\tRAW BYTES")
	for _, seg := range s.Segments {
		h := seg.Header
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%d\n", seg.Name, h.OpStart, h.OpEnd, h.Count, h.RawSize)
	}
	tw.Flush()
}

func wall(ts oplog.Timestamp) string { return ts.Time().Format(time.RFC3339) }
