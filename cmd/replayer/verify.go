package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/tidelog/tidelog/catalog"
	"github.com/tidelog/tidelog/segment"
	"github.com/tidelog/tidelog/snapshot"
)

func verifyCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	storeDir := fs.String("store", "", storeHelp)
	stream := fs.String("stream", "", "verify only this stream")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	st, err := openStore(ctx, *storeDir)
	if err != nil {
		return err
	}
	defer closeStore(st)
	names, err := st.Streams(ctx)
	if err != nil {
		return err
	}
	if *stream != "" {
		names = []string{*stream}
	}
	var problems []catalog.Problem
	segments, entries, gaps, snaps := 0, uint64(0), 0, 0
	for _, name := range names {
		s, err := catalog.LoadStream(ctx, st, name)
		if err != nil {
			// A header too damaged to list is itself a finding.
			problems = append(problems, catalog.Problem{Stream: name, Err: err})
			continue
		}
		problems = append(problems, catalog.Verify(ctx, st, s, func(info segment.Info) {
			segments++
			entries += info.Count
		})...)
		complete, incomplete, err := snapshot.List(ctx, st, name)
		if err != nil {
			problems = append(problems, catalog.Problem{Stream: name, Err: err})
		}
		for _, m := range complete {
			if err := snapshot.Verify(ctx, st, m); err != nil {
				problems = append(problems, catalog.Problem{Stream: name, Segment: "snapshot " + m.ID, Err: err})
				continue
			}
			snaps++
		}
		for _, id := range incomplete {
			fmt.Fprintf(stdout, "%s: snapshot %s is incomplete (interrupted, or its manifest is damaged): it is never used for a restore\n", name, id)
		}
		for _, g := range s.Gaps {
			gaps++
			fmt.Fprintf(stdout, "%s: recorded gap after %s (history lost at the source; next available %s)\n", name, g.After, g.Next)
		}
	}
	if len(problems) == 0 && gaps == 0 {
		fmt.Fprintf(stdout, "OK: %d streams, %d segments, %d entries, %d snapshots verified (checksums, chain, manifests)\n", len(names), segments, entries, snaps)
		return nil
	}
	if len(problems) == 0 {
		fmt.Fprintf(stdout, "INTACT WITH GAPS: %d segments, %d entries verified; %d recorded gaps\n", segments, entries, gaps)
		return coded(exitWindow, fmt.Errorf("every segment is intact, but history has %d recorded gaps: "+
			"positions inside a gap cannot be restored, and restores after one need a base snapshot taken after it", gaps))
	}
	for _, p := range problems {
		fmt.Fprintf(stdout, "PROBLEM %s\n", p)
	}
	return coded(exitDamaged, fmt.Errorf("%d problems found; %d segments verified intact. Restores up to the first damaged segment still work; "+
		"restore a damaged segment's file from another copy of the store if you have one", len(problems), segments))
}
