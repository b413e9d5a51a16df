package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/tidelog/tidelog/catalog"
	"github.com/tidelog/tidelog/crypt"
	"github.com/tidelog/tidelog/snapshot"
)

func verifyCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf storeFlags
	sf.register(fs)
	stream := fs.String("stream", "", "verify only this stream")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	st, keys, err := sf.open(ctx, stderr)
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
	var all sealedTally
	segments, entries, gaps, snaps := 0, uint64(0), 0, 0
	for _, name := range names {
		s, err := catalog.LoadStream(ctx, st, name)
		if err != nil {
			// A header too damaged to list is itself a finding.
			problems = append(problems, catalog.Problem{Stream: name, Err: err})
			continue
		}
		var sealed sealedTally
		problems = append(problems, catalog.VerifyWith(ctx, st, s, keys.segments(), func(c catalog.Checked) {
			segments++
			entries += c.Info.Count
			sealed.segment(c)
		})...)
		l, err := snapshot.ListWith(ctx, st, name, snapshotsOf(keys, s))
		if err != nil {
			problems = append(problems, catalog.Problem{Stream: name, Err: err})
		}
		for _, m := range l.Complete {
			if err := snapshot.Verify(ctx, st, m); err != nil {
				problems = append(problems, catalog.Problem{Stream: name, Segment: "snapshot " + m.ID, Err: err})
				continue
			}
			snaps++
		}
		for _, u := range l.Unreadable {
			if !sealed.snapshot(u) {
				problems = append(problems, catalog.Problem{Stream: name, Segment: "snapshot " + u.ID, Err: u.Err})
			}
		}
		for _, d := range l.Damaged {
			problems = append(problems, catalog.Problem{Stream: name, Segment: "snapshot " + d.ID, Err: fmt.Errorf(
				"%w; the snapshot is never used for a restore, and tailerd keeps it: replace it from another copy of the store, or move it out of the store once you have looked at it", d.Err)})
		}
		sealed.print(stdout, name)
		all.add(sealed)
		for _, id := range l.Incomplete {
			fmt.Fprintf(stdout, "%s: snapshot %s is incomplete (interrupted: it has no manifest): it is never used for a restore, and tailerd deletes it at its next start\n", name, id)
		}
		for _, g := range s.Gaps {
			gaps++
			fmt.Fprintf(stdout, "%s: recorded gap after %s (history lost at the source; next available %s)\n", name, g.After, g.Next)
		}
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintf(stdout, "PROBLEM %s\n", p)
		}
		return coded(exitDamaged, fmt.Errorf("%d problems found; %d segments verified intact. Restores up to the first damaged segment still work; "+
			"restore a damaged segment's file from another copy of the store if you have one", len(problems), segments))
	}
	if all.wrong > 0 {
		// Keys were given, and some objects need others: verify could not
		// do what was asked of it, and the remedy is the command line.
		return coded(exitUsage, fmt.Errorf("wrong key: %s encrypted with key(s) %s, which are not among the keys given (%s from %s): "+
			"their structure and chain verified, their contents not; add the missing key(s) to the key file, below the current one, and run verify again",
			all.wrongWhat(), crypt.IDList(all.ids()), keys.ids(), keys.from))
	}
	if gaps == 0 {
		fmt.Fprintf(stdout, "OK: %d streams, %d segments, %s, %d snapshots verified (checksums, chain, manifests)\n", len(names), segments, all.entries(entries), snaps)
		all.notice(stdout)
		return nil
	}
	fmt.Fprintf(stdout, "INTACT WITH GAPS: %d segments, %s verified; %d recorded gaps\n", segments, all.entries(entries), gaps)
	all.notice(stdout)
	return coded(exitWindow, fmt.Errorf("every segment is intact, but history has %d recorded gaps: "+
		"positions inside a gap cannot be restored, and restores after one need a base snapshot taken after it", gaps))
}

// errKeyLike tells the errors of an object that could not be decrypted
// with the keys given (as opposed to damage).
func errKeyLike(err error) bool {
	return errors.Is(err, crypt.ErrKeyRequired) || errors.Is(err, crypt.ErrWrongKey)
}

// snapshotsOf is how the snapshots of stream s are read with keys:
// plaintext ones are its own only before its first encrypted segment.
func snapshotsOf(keys readKeys, s *catalog.Stream) snapshot.ReadOptions {
	o := keys.snapshots()
	o.SegmentsEncryptedFrom, _ = s.EncryptedFrom()
	return o
}
