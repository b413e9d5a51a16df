package main

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/replay"
)

// parseTarget parses args as restore, apply and restore-dump do and
// returns the replay options they would write with.
func parseTarget(t *testing.T, args ...string) (replay.Options, error) {
	t.Helper()
	fs := flag.NewFlagSet("apply", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var tf targetFlags
	tf.register(fs, "drop")
	if err := parseFlags(fs, append([]string{"--target", "mongodb://127.0.0.1:1"}, args...)); err != nil {
		return replay.Options{}, err
	}
	if _, err := tf.validate(); err != nil {
		return replay.Options{}, err
	}
	opts, closeReport, err := tf.replayOptions()
	if err != nil {
		return replay.Options{}, err
	}
	if _, err := closeReport(); err != nil {
		t.Fatal(err)
	}
	return opts, nil
}

// --after and --written, as a stopped replay prints them, become the
// replay's After and Written: the resumed replay writes nothing through
// Written again.
func TestResumeFlagsReachReplayOptions(t *testing.T) {
	opts, err := parseTarget(t, "--after", "1700000000.4", "--written", "1700000000.9")
	if err != nil {
		t.Fatal(err)
	}
	if want := (oplog.Timestamp{T: 1700000000, I: 4}); opts.After != want {
		t.Errorf("After %s, want %s", opts.After, want)
	}
	if want := (oplog.Timestamp{T: 1700000000, I: 9}); opts.Written != want {
		t.Errorf("Written %s, want %s", opts.Written, want)
	}
	opts, err = parseTarget(t, "--after", "1700000000.4")
	if err != nil || opts.After != (oplog.Timestamp{T: 1700000000, I: 4}) || !opts.Written.IsZero() {
		t.Errorf("--after alone: %v, After %s, Written %s; want After 1700000000.4, Written zero", err, opts.After, opts.Written)
	}
	opts, err = parseTarget(t, "--after", "1700000000.4", "--written", "1700000000.4")
	if err != nil || opts.Written != opts.After {
		t.Errorf("--written equal to --after: %v, Written %s; want it taken", err, opts.Written)
	}
}

// --written without --after, before it, unparsable, or with --drop is bad
// usage, named in the message, before any target is touched.
func TestResumeFlagsUsageErrors(t *testing.T) {
	for _, b := range []struct {
		args []string
		says string
	}{
		{[]string{"--written", "1700000000.9"}, "--written goes with --after"},
		{[]string{"--after", "1700000000.9", "--written", "1700000000.4"}, "--written 1700000000.4 is before --after 1700000000.9"},
		{[]string{"--after", "1700000000.4", "--written", "soon"}, "--written: "},
		{[]string{"--after", "soon", "--written", "1700000000.4"}, "--after: "},
		{[]string{"--after", "1700000000.4", "--written", "1700000000.9", "--drop"}, "use one or the other"},
	} {
		_, err := parseTarget(t, b.args...)
		if exitCode(err) != exitUsage || !strings.Contains(err.Error(), b.says) {
			t.Errorf("%q: %v (exit %d), want exit 2 saying %q", b.args, err, exitCode(err), b.says)
		}
	}
}

// The advice of a stopped replay names --written only when the target
// holds more than the resume point, and the restore's error says it.
func TestResumeAdvice(t *testing.T) {
	cause := errors.New("boom")
	a, w := oplog.Timestamp{T: 1700000000, I: 4}, oplog.Timestamp{T: 1700000000, I: 9}
	for _, c := range []struct {
		se   *replay.StoppedError
		want string
	}{
		{&replay.StoppedError{Err: cause, Applied: a, Written: w}, "run the same command again with --after 1700000000.4 --written 1700000000.9 to finish it"},
		{&replay.StoppedError{Err: cause, Applied: a, Written: a}, "run the same command again with --after 1700000000.4 to finish it"},
		{&replay.StoppedError{Err: cause, Applied: a}, "run the same command again with --after 1700000000.4 to finish it"},
	} {
		if got := replayError(c.se, "/st").Error(); !strings.Contains(got, c.want) {
			t.Errorf("stopped at %s, written %s: advice\n%s\nwant %q", c.se.Applied, c.se.Written, got, c.want)
		}
	}
}
