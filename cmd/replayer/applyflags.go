package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/replay"
)

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// parseFlags parses args, mapping -h to success and bad flags to exit 2.
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	switch {
	case err == nil:
		if fs.NArg() > 0 {
			return coded(exitUsage, fmt.Errorf("unexpected argument %q", fs.Arg(0)))
		}
		return nil
	case errors.Is(err, flag.ErrHelp):
		return coded(exitOK, err)
	}
	return coded(exitUsage, err)
}

// targetFlags are where and how far restore and apply write.
type targetFlags struct {
	target  string
	to      string
	resume  resumeFlags
	drop    bool
	timeout time.Duration
	applyFlags
}

func (f *targetFlags) register(fs *flag.FlagSet, dropHelp string) {
	fs.StringVar(&f.target, "target", "", "MongoDB URI to write to (required)")
	fs.StringVar(&f.to, "to", "latest", "last position to include: T.I, T, RFC 3339 or latest")
	fs.StringVar(&f.resume.after, "after", "", "resume a replay that stopped: skip the entries through this position (the resume point it printed) and write on top of what it wrote")
	fs.StringVar(&f.resume.written, "written", "", "with --after, as the stopped replay printed it: write none of the entries through this position again (only rebuild the transactions open there)")
	fs.BoolVar(&f.drop, "drop", false, dropHelp)
	fs.DurationVar(&f.timeout, "connect-timeout", 15*time.Second, "how long to wait for the target")
	f.applyFlags.register(fs)
}

// validate checks the target flags without I/O, so bad usage is reported
// before any store or server is touched.
func (f *targetFlags) validate() (oplog.Timestamp, error) {
	if f.target == "" {
		return oplog.Timestamp{}, coded(exitUsage, errors.New("--target is required"))
	}
	if err := checkTimeout(f.timeout); err != nil {
		return oplog.Timestamp{}, err
	}
	if _, _, err := f.resume.positions(f.drop); err != nil {
		return oplog.Timestamp{}, err
	}
	return parseTo(f.to)
}

// checkTimeout checks --connect-timeout: zero or less would fail every
// connection (or, to the driver, wait without end), more than an hour is
// a hang to whoever runs the command.
func checkTimeout(d time.Duration) error {
	if d <= 0 || d > time.Hour {
		return coded(exitUsage, fmt.Errorf("--connect-timeout %s: want a duration from 1ms to 1h", d))
	}
	return nil
}

// targetRun is what restore and apply hold while they write: the position
// to stop at, the replay options and the target connection.
type targetRun struct {
	to          oplog.Timestamp
	opts        replay.Options
	client      *mongo.Client
	closeReport func() (int, error)
}

// start checks the flags, opens the --skip-unsupported report and connects
// to the target. A nil error means finish must be called.
func (f *targetFlags) start(ctx context.Context) (*targetRun, error) {
	to, err := f.validate()
	if err != nil {
		return nil, err
	}
	opts, closeReport, err := f.replayOptions()
	if err != nil {
		return nil, coded(exitUsage, err)
	}
	client, err := connectTarget(ctx, f.target, f.timeout)
	if err != nil {
		closeReport()
		return nil, err
	}
	return &targetRun{to: to, opts: opts, client: client, closeReport: closeReport}, nil
}

// replayOptions are the replay's options, resuming where --after and
// --written say (checked by validate); closeReport must be called.
func (f *targetFlags) replayOptions() (opts replay.Options, closeReport func() (int, error), err error) {
	if opts, closeReport, err = f.options(); err != nil {
		return opts, nil, err
	}
	opts.After, opts.Written, _ = f.resume.positions(f.drop)
	return opts, closeReport, nil
}

// finish closes the report and the connection and maps the replay's error
// to its exit code; it returns how many entries were skipped as unsupported.
func (r *targetRun) finish(ctx context.Context, replayErr error, storeDir string) (int, error) {
	skipped, cerr := r.closeReport()
	r.client.Disconnect(context.WithoutCancel(ctx))
	if err := replayError(replayErr, storeDir); err != nil {
		return skipped, err
	}
	return skipped, cerr
}

// applyFlags are the options restore and apply share.
type applyFlags struct {
	include, exclude, from, to stringList
	includeUsers               bool
	clusterTarget              bool
	skipUnsupported            string
}

func (f *applyFlags) register(fs *flag.FlagSet) {
	fs.Var(&f.include, "ns-include", "replay only these namespaces: db.coll, db.* or * (repeatable)")
	fs.Var(&f.exclude, "ns-exclude", "leave out these namespaces: db.coll or db.* (repeatable)")
	fs.Var(&f.from, "ns-from", "rename from (db.* or db.coll), paired with --ns-to (repeatable)")
	fs.Var(&f.to, "ns-to", "rename to (db2.* or db2.coll2)")
	fs.BoolVar(&f.includeUsers, "include-users", false, "also replay admin.system.users and admin.system.roles")
	fs.BoolVar(&f.clusterTarget, "cluster-target", false, "the target is a whole sharded cluster: skip chunk-migration copies (fromMigrate)")
	fs.StringVar(&f.skipUnsupported, "skip-unsupported", "", "skip entries the replayer cannot apply, writing each to this report file (JSON lines), instead of stopping")
}

// options builds replay.Options; close must be called to flush the report.
func (f *applyFlags) options() (replay.Options, func() (int, error), error) {
	opts, report, err := f.clusterOptions()
	if err != nil {
		return replay.Options{}, nil, err
	}
	opts.OnUnsupported = report.forStream("")
	return opts, report.close, nil
}

// clusterOptions builds the replay.Options every stream of a cluster restore
// shares, and the --skip-unsupported report they all write to, each entry
// naming its stream (forStream). The report must be closed.
func (f *applyFlags) clusterOptions() (replay.Options, *unsupportedReport, error) {
	ns, err := replay.NewNamespaces(f.include, f.exclude, f.from, f.to)
	if err != nil {
		return replay.Options{}, nil, err
	}
	opts := replay.Options{Namespaces: ns, IncludeUsers: f.includeUsers, ClusterTarget: f.clusterTarget}
	report := &unsupportedReport{counts: map[string]int{}}
	if f.skipUnsupported != "" {
		out, err := os.Create(f.skipUnsupported)
		if err != nil {
			return replay.Options{}, nil, fmt.Errorf("--skip-unsupported: %w", err)
		}
		report.out, report.enc = out, json.NewEncoder(out)
	}
	return opts, report, nil
}

// unsupportedReport is the --skip-unsupported file: one JSON line per entry
// skipped. Without the flag it records nothing, and entries stop the replay.
type unsupportedReport struct {
	mu     sync.Mutex
	out    *os.File
	enc    *json.Encoder
	n      int
	counts map[string]int // by stream
}

// forStream is the OnUnsupported callback of one stream's replay (stream
// "": a single replay, the field is left out); nil without a report.
func (r *unsupportedReport) forStream(stream string) func(*replay.UnsupportedError) error {
	if r.enc == nil {
		return nil
	}
	return func(e *replay.UnsupportedError) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.n++
		r.counts[stream]++
		entry := json.RawMessage("null")
		if len(e.Entry) > 0 {
			entry = json.RawMessage(e.Entry.String())
		}
		return r.enc.Encode(struct {
			Stream string          `json:"stream,omitempty"`
			TS     string          `json:"ts"`
			NS     string          `json:"ns"`
			What   string          `json:"what"`
			Entry  json.RawMessage `json:"entry"`
		}{stream, e.TS.String(), e.NS, e.What, entry})
	}
}

// skipped is how many entries of stream were skipped so far.
func (r *unsupportedReport) skipped(stream string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts[stream]
}

// close flushes the report and returns how many entries it lists.
func (r *unsupportedReport) close() (int, error) {
	if r.out == nil {
		return 0, nil
	}
	return r.n, r.out.Close()
}
