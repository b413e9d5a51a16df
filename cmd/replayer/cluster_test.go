package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidelog/tidelog/replay"
	"github.com/tidelog/tidelog/restore"

	"github.com/tidelog/tidelog/oplog"
)

func exitCode(err error) int {
	var ce *codedError
	if errors.As(err, &ce) {
		return ce.code
	}
	if err != nil {
		return exitFailure
	}
	return exitOK
}

func TestWantCluster(t *testing.T) {
	cases := []struct {
		args []string
		want bool
	}{
		{[]string{"--store", "s", "--cluster"}, true},
		{[]string{"-cluster", "--store", "s"}, true},
		{[]string{"--cluster=true"}, true},
		{[]string{"--cluster=false"}, false},
		{[]string{"--store", "s", "--target", "mongodb://x"}, false},
		{[]string{"--", "--cluster"}, false},
	}
	for _, c := range cases {
		if got := wantCluster(c.args); got != c.want {
			t.Errorf("wantCluster(%q) = %v, want %v", c.args, got, c.want)
		}
	}
}

func TestParseClusterFlags(t *testing.T) {
	f, err := parseClusterFlags([]string{"--cluster", "--store", "/s", "--target-for", "cfg=mongodb://a:1", "--target-for", "shard1=mongodb://b:2/?replicaSet=shard1",
		"--skip-stream", "shard9", "--to", "1700000000.5", "--parallel", "2"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if f.targets.uris["cfg"] != "mongodb://a:1" || f.targets.uris["shard1"] != "mongodb://b:2/?replicaSet=shard1" || len(f.targets.uris) != 2 {
		t.Errorf("targets %v", f.targets)
	}
	if f.to != (oplog.Timestamp{T: 1700000000, I: 5}) || f.parallel != 2 || len(f.skip) != 1 {
		t.Errorf("to %s parallel %d skip %v", f.to, f.parallel, f.skip)
	}
	f, err = parseClusterFlags([]string{"--cluster", "--store", "/s", "--dry-run"}, io.Discard)
	if err != nil || f.to != oplog.Max {
		t.Errorf("dry run without targets: %v, to %v; want no error, latest", err, f)
	}

	bad := []struct {
		args []string
		says string
	}{
		{[]string{"--store", "/s"}, "--target-for NAME=URI"},
		{[]string{"--target-for", "shard1"}, "is not NAME=URI"},
		{[]string{"--target-for", "=mongodb://a"}, "is not NAME=URI"},
		{[]string{"--target-for", "a=mongodb://x", "--target-for", "a=mongodb://y"}, "named twice"},
		{[]string{"--target-for", "a=mongodb://x", "--skip-stream", "a"}, "both --target-for and --skip-stream"},
		{[]string{"--target-for", "a=mongodb://x", "--stream", "a"}, "--target-for NAME=URI"},
		{[]string{"--target-for", "a=mongodb://x", "--after", "5"}, "--stream NAME"},
		{[]string{"--target-for", "a=mongodb://x", "--written", "5"}, "--written"},
		{[]string{"--target-for", "a=mongodb://x", "--cluster-target"}, "chunk-migration"},
		{[]string{"--target-for", "a=mongodb://x", "--parallel", "0"}, "--parallel 0"},
		{[]string{"--target-for", "a=mongodb://x", "--to", "yesterday"}, "--to"},
	}
	// A URI given without its NAME= may hold a password: neither the error
	// nor the flag package's usage output repeats it.
	var out strings.Builder
	_, err = parseClusterFlags([]string{"--cluster", "--target-for", "mongodb://u:pw-XYZZY@h:1"}, &out)
	if exitCode(err) != exitUsage || strings.Contains(err.Error()+out.String(), "XYZZY") {
		t.Errorf("malformed --target-for: %v (exit %d), output %q: want exit 2 without the password", err, exitCode(err), out.String())
	}
	for _, b := range bad {
		_, err := parseClusterFlags(append([]string{"--cluster"}, b.args...), io.Discard)
		if exitCode(err) != exitUsage || !strings.Contains(err.Error(), b.says) {
			t.Errorf("%q: %v (exit %d), want exit 2 saying %q", b.args, err, exitCode(err), b.says)
		}
	}
}

func TestMapTargets(t *testing.T) {
	streams := []string{"cfg", "shard1", "shard2"}
	got, err := mapTargets(streams, map[string]string{"shard2": "mongodb://t2", "cfg": "mongodb://tc"},
		map[string]string{"shard1": "mongodb://d1", "shard2": "mongodb://d2"}, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []streamTarget{{"cfg", "mongodb://tc"}, {"shard1", "mongodb://d1"}, {"shard2", "mongodb://t2"}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("stream %d: %v, want %v (--target-for wins over discovery)", i, got[i], want[i])
		}
	}

	got, err = mapTargets(streams, map[string]string{"cfg": "mongodb://tc", "shard1": "mongodb://t1"}, nil, []string{"shard2"}, false)
	if err != nil || len(got) != 2 || got[1].Stream != "shard1" {
		t.Errorf("shard2 skipped on purpose: %v %v", got, err)
	}

	bad := []struct {
		name       string
		targets    map[string]string
		discovered map[string]string
		skip       []string
		says       string
	}{
		{"a stream with no target", map[string]string{"cfg": "mongodb://tc", "shard1": "mongodb://t1"}, nil, nil, "no target for stream shard2"},
		{"discovery lacks one", map[string]string{"cfg": "mongodb://tc"}, map[string]string{"shard1": "mongodb://d1", "shardX": "mongodb://dx"}, nil,
			"--target's cluster has shard1, shardX"},
		{"a typo", map[string]string{"cfg": "a", "shard1": "b", "shard2": "c", "shard3": "d"}, nil, nil, "--target-for shard3: no such stream"},
		{"skip a typo", map[string]string{"cfg": "a", "shard1": "b", "shard2": "c"}, nil, []string{"shrad2"}, "--skip-stream shrad2: no such stream"},
		{"one target twice", map[string]string{"cfg": "mongodb://a", "shard1": "mongodb://b", "shard2": "mongodb://b"}, nil, nil, "same target"},
		{"one replica set spelt twice", map[string]string{"cfg": "mongodb://a", "shard1": "mongodb://B:27017,c:27018/?replicaSet=rs1",
			"shard2": "mongodb://c:27018,b/?replicaSet=rs1"}, nil, nil, "same target"},
		{"all skipped", nil, nil, streams, "nothing to restore"},
	}
	for _, b := range bad {
		_, err := mapTargets(streams, b.targets, b.discovered, b.skip, false)
		if exitCode(err) != exitUsage || !strings.Contains(err.Error(), b.says) {
			t.Errorf("%s: %v, want exit 2 saying %q", b.name, err, b.says)
		}
	}

	// A dry run without targets plans every stream.
	got, err = mapTargets(streams, nil, nil, nil, true)
	if err != nil || len(got) != 3 || got[0].URI != "" {
		t.Errorf("lenient: %v %v", got, err)
	}
}

func TestMapTargetsRedactsPasswords(t *testing.T) {
	_, err := mapTargets([]string{"a", "b"}, map[string]string{"a": "mongodb://u:secret@h/", "b": "mongodb://u:secret@h/"}, nil, nil, false)
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("error %v: want a refusal without the password", err)
	}
}

// The first failure cancels the streams running beside it, and those not
// begun never start; the others' errors say they were cancelled.
func TestFanOutCancelsOnFirstFailure(t *testing.T) {
	boom := errors.New("boom")
	started := make(chan int, 4)
	var running atomic.Int32
	errs := fanOut(context.Background(), 2, 4, func(ctx context.Context, i int) error {
		if n := running.Add(1); n > 2 {
			t.Errorf("%d running at once, limit 2", n)
		}
		defer running.Add(-1)
		started <- i
		if i == 1 {
			<-started // wait until stream 0 is running too, then fail
			return boom
		}
		<-ctx.Done()
		return ctx.Err()
	})
	if !errors.Is(errs[1], boom) || !errors.Is(errs[0], context.Canceled) {
		t.Errorf("errs %v: want 0 cancelled, 1 boom", errs)
	}
	for i := 2; i < 4; i++ {
		if !errors.Is(errs[i], errNotStarted) {
			t.Errorf("stream %d: %v, want not started", i, errs[i])
		}
	}
	if s := []streamState{state(errs, 0), state(errs, 1), state(errs, 2)}; s[0] != interrupted || s[1] != failed || s[2] != notStarted {
		t.Errorf("states %v", s)
	}
}

func TestFanOutAllSucceed(t *testing.T) {
	var n atomic.Int32
	errs := fanOut(context.Background(), 3, 10, func(ctx context.Context, i int) error { n.Add(1); return nil })
	for i, err := range errs {
		if err != nil {
			t.Errorf("%d: %v", i, err)
		}
	}
	if n.Load() != 10 {
		t.Errorf("ran %d of 10", n.Load())
	}
}

// A cluster restore that fails while writing says, stream by stream, which
// completed, which failed, which were interrupted or never began, that the
// cluster is not consistent, and how to finish each unfinished stream; it
// exits with the failed stream's code.
func TestClusterFailureReport(t *testing.T) {
	to := oplog.Timestamp{T: 1700000000, I: 9}
	var out strings.Builder
	c := &clusterRun{
		f:       &clusterFlags{storeFlags: storeFlags{store: "/st"}},
		to:      to,
		targets: []streamTarget{{"cfg", "mongodb://a"}, {"shard1", "mongodb://u:pw@b"}, {"shard2", "mongodb://c"}, {"shard3", "mongodb://d"}},
		preps:   []*restore.Prepared{{Stream: "cfg"}, {Stream: "shard1"}, {Stream: "shard2"}, {Stream: "shard3"}},
		report:  &unsupportedReport{counts: map[string]int{}},
		stdout:  &out,
		results: make([]restore.Result, 4),
	}
	c.results[0].Replay.Entries = 7
	stopped := &replay.StoppedError{Err: &replay.ConflictError{Namespaces: []string{"a.b"}}, Applied: oplog.Timestamp{T: 1700000000, I: 4},
		Written: oplog.Timestamp{T: 1700000000, I: 7}}
	errs := []error{nil, stopped, fmt.Errorf("write: %w", context.Canceled), errNotStarted}
	c.printSummary(errs, time.Second)
	err := c.failure(errs)
	for _, want := range []string{
		"summary: stream cfg          completed   to 1700000000.9, 7 entries",
		"summary: stream shard1       FAILED     : ",
		"summary: stream shard2       interrupted",
		"summary: stream shard3       not started",
		"summary: cluster NOT consistent: 1 of 4 streams restored to 1700000000.9",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
	msg := err.Error()
	for _, want := range []string{
		"stream shard1: ",
		"The cluster is NOT consistent",
		"--stream shard1 --target mongodb://u:xxxxx@b --to 1700000000.9 --after 1700000000.4 --written 1700000000.7",
		"--stream shard2 --target mongodb://c --to 1700000000.9 --drop",
		"--stream shard3 --target mongodb://d --to 1700000000.9",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "pw") || strings.Contains(msg, "--stream cfg") {
		t.Errorf("error names a password or the completed stream:\n%s", msg)
	}
	if exitCode(err) != exitConflict {
		t.Errorf("exit %d, want the failed stream's %d", exitCode(err), exitConflict)
	}
}
