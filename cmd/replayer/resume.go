package main

import (
	"errors"
	"fmt"

	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/replay"
)

// resumeFlags are --after and --written: where a replay that stopped goes
// on. --written matters because the resume point is held back before open
// transactions, and a namespace command between it and written is not
// idempotent (a rename of A to B run again after A was created anew
// replaces B with the new A): with it, nothing through written is written
// again.
type resumeFlags struct {
	after, written string
}

// positions parses both flags; zero when not resuming. drop is --drop,
// which discards what a resume would write on top of.
func (f resumeFlags) positions(drop bool) (after, written oplog.Timestamp, err error) {
	if f.written != "" && f.after == "" {
		return after, written, coded(exitUsage, errors.New("--written goes with --after: give both as the stopped run printed them"))
	}
	if f.after == "" {
		return after, written, nil
	}
	if drop {
		return after, written, coded(exitUsage, errors.New("--after resumes on top of what a stopped replay wrote; --drop would discard it: use one or the other"))
	}
	if after, err = oplog.Parse(f.after); err != nil {
		return after, written, coded(exitUsage, fmt.Errorf("--after: %w", err))
	}
	if f.written == "" {
		return after, written, nil
	}
	if written, err = oplog.Parse(f.written); err != nil {
		return after, written, coded(exitUsage, fmt.Errorf("--written: %w", err))
	}
	if written.Before(after) {
		return after, written, coded(exitUsage, fmt.Errorf("--written %s is before --after %s: a stopped run prints written at or after its resume point; give both as it printed them", written, after))
	}
	return after, written, nil
}

// resumeArgs is how a replay that stopped with se goes on: --after its
// resume point, and --written when the target holds more than that.
func resumeArgs(se *replay.StoppedError) string {
	if se.Written.After(se.Applied) {
		return fmt.Sprintf("--after %s --written %s", se.Applied, se.Written)
	}
	return "--after " + se.Applied.String()
}
