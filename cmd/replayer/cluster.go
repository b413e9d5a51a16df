package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/connstring"

	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/replay"
	"github.com/tidelog/tidelog/restore"
	"github.com/tidelog/tidelog/store"
	"github.com/tidelog/tidelog/topology"
)

// clusterFlags are `replayer restore --cluster`'s settings: one store, one
// position, a target per stream.
type clusterFlags struct {
	targets  targetMap  // --target-for NAME=URI
	skip     stringList // --skip-stream NAME
	seed     string     // --target: a mongos or config server to discover the targets from
	to       oplog.Timestamp
	dryRun   bool
	drop     bool
	parallel int
	workers  int
	timeout  time.Duration
	applyFlags
	storeFlags
}

// targetMap is the repeatable --target-for NAME=URI. A URI may hold a
// password, so Set never fails: the flag package would echo the value. It
// keeps what was wrong, without the value, for check to report.
type targetMap struct {
	uris    map[string]string
	problem error
}

func (m *targetMap) String() string {
	if m == nil {
		return ""
	}
	names := make([]string, 0, len(m.uris))
	for n := range m.uris {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

func (m *targetMap) Set(v string) error {
	name, uri, ok := strings.Cut(v, "=")
	name = strings.TrimSpace(name)
	switch {
	case m.problem != nil:
	case !ok || name == "" || uri == "":
		m.problem = errors.New("a --target-for value is not NAME=URI (a stream name of the store and its target's MongoDB URI); it is not repeated here, as it may hold a password")
	case m.uris[name] != "":
		m.problem = fmt.Errorf("--target-for: stream %s named twice", name)
	default:
		if m.uris == nil {
			m.uris = map[string]string{}
		}
		m.uris[name] = uri
	}
	return nil
}

// wantCluster tells `restore --cluster` from a restore of one stream.
func wantCluster(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && name == "cluster" {
			return !hasVal || (val != "false" && val != "0" && val != "f" && val != "F" && val != "FALSE" && val != "False")
		}
	}
	return false
}

// parseClusterFlags checks every flag without I/O, so bad usage is
// reported before the store or any server is touched.
func parseClusterFlags(args []string, stderr io.Writer) (*clusterFlags, error) {
	f := &clusterFlags{}
	fs := flag.NewFlagSet("restore --cluster", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Bool("cluster", true, "restore every stream of the store (each shard and the config server) to one position")
	f.storeFlags.register(fs)
	fs.Var(&f.targets, "target-for", "NAME=URI: restore stream NAME onto the replica set at URI (repeatable; every stream of the store needs one, or --skip-stream)")
	fs.Var(&f.skip, "skip-stream", "leave stream NAME unrestored, on purpose (repeatable); the cluster position is then computed without it")
	fs.StringVar(&f.seed, "target", "", "a mongos or config server of the target cluster: its config server and shards are discovered and matched to streams by name (shard _id, config server replica set name); --target-for overrides a match")
	to := fs.String("to", "latest", "last position to include on every stream: T.I, T, RFC 3339 or latest (the latest position restorable on all)")
	fs.BoolVar(&f.dryRun, "dry-run", false, "print every stream's plan and the common position, and exit without connecting to any target")
	fs.BoolVar(&f.drop, "drop", false, "replace namespaces the targets already hold")
	fs.IntVar(&f.parallel, "parallel", 4, "streams restored at once")
	fs.IntVar(&f.workers, "workers", 4, "collections each stream loads from its snapshot at once")
	fs.DurationVar(&f.timeout, "connect-timeout", 15*time.Second, "how long to wait for each target")
	stream := fs.String("stream", "", "not with --cluster: name each stream's target with --target-for NAME=URI")
	var resume resumeFlags
	fs.StringVar(&resume.after, "after", "", "not with --cluster: resume one stream alone (the failure report prints the command)")
	fs.StringVar(&resume.written, "written", "", "not with --cluster: resume one stream alone with --after and --written (the failure report prints the command)")
	f.applyFlags.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	switch {
	case f.targets.problem != nil:
		return nil, coded(exitUsage, f.targets.problem)
	case *stream != "":
		return nil, coded(exitUsage, errors.New("--stream restores one replica set; with --cluster every stream is restored: give each its target with --target-for NAME=URI"))
	case resume.after != "" || resume.written != "":
		return nil, coded(exitUsage, errors.New("--after and --written resume one stream's replay; resume a stream of a cluster restore alone with `replayer restore --stream NAME --target URI --to TS --after X [--written Y]`, as the failed run printed"))
	case f.clusterTarget:
		// Each target is one replica set: a chunk moved into a shard is that
		// shard's data, written by its migration (fromMigrate), and skipping
		// it would leave the document on no shard at all.
		return nil, coded(exitUsage, errors.New("--cluster-target skips chunk-migration writes, for a restore through one mongos; --cluster restores each replica set onto its own target, where those writes are the shard's data: leave --cluster-target out"))
	case f.parallel < 1 || f.parallel > 64:
		return nil, coded(exitUsage, fmt.Errorf("--parallel %d: want 1 to 64", f.parallel))
	case f.workers < 1 || f.workers > 64:
		return nil, coded(exitUsage, fmt.Errorf("--workers %d: want 1 to 64", f.workers))
	case checkTimeout(f.timeout) != nil:
		return nil, checkTimeout(f.timeout)
	case !f.dryRun && len(f.targets.uris) == 0 && f.seed == "":
		return nil, coded(exitUsage, errors.New("--cluster needs a target for every stream: --target-for NAME=URI (repeatable) or --target URI of the target cluster's mongos or config server"))
	}
	for _, name := range f.skip {
		if _, ok := f.targets.uris[name]; ok {
			return nil, coded(exitUsage, fmt.Errorf("stream %s has both --target-for and --skip-stream", name))
		}
	}
	var err error
	if f.to, err = parseTo(*to); err != nil {
		return nil, err
	}
	return f, nil
}

// streamTarget is one stream of a cluster restore and where it goes.
type streamTarget struct {
	Stream string
	URI    string // "": not known (a dry run without targets)
}

// mapTargets decides where each stream of the store goes: its --target-for,
// else the discovered replica set of the same name. A stream with neither
// fails the restore unless --skip-stream names it: a cluster with one shard
// left as it was is not a restore of that cluster. A --target-for or
// --skip-stream naming no stream of the store is refused too (a typo would
// otherwise leave the real stream without a target). Two streams onto one
// target would mix two shards' data, and are refused. With lenient (a dry
// run without targets) streams without one are planned all the same.
func mapTargets(streams []string, targets, discovered map[string]string, skip []string, lenient bool) ([]streamTarget, error) {
	have := map[string]bool{}
	for _, s := range streams {
		have[s] = true
	}
	var unknown []string
	for name := range targets {
		if !have[name] {
			unknown = append(unknown, "--target-for "+name)
		}
	}
	for _, name := range skip {
		if !have[name] {
			unknown = append(unknown, "--skip-stream "+name)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, coded(exitUsage, fmt.Errorf("%s: no such stream in the store (it holds %s)", strings.Join(unknown, ", "), strings.Join(streams, ", ")))
	}
	var out []streamTarget
	var missing []string
	byURI := map[string]string{}
	for _, s := range streams {
		if slices.Contains(skip, s) {
			continue
		}
		uri := targets[s]
		if uri == "" {
			uri = discovered[s]
		}
		if uri == "" && !lenient {
			missing = append(missing, s)
			continue
		}
		for _, h := range targetHosts(uri) {
			if other, dup := byURI[h]; dup && other != s {
				return nil, coded(exitUsage, fmt.Errorf("streams %s and %s have the same target (server %s): each replica set of the cluster needs its own, "+
					"or the two shards' data would merge", other, s, h))
			}
			byURI[h] = s
		}
		out = append(out, streamTarget{Stream: s, URI: uri})
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("no target for stream %s: every stream of the store is restored with --cluster; give it --target-for NAME=URI, or leave it unrestored on purpose with --skip-stream NAME", strings.Join(missing, ", "))
		if len(discovered) > 0 {
			found := make([]string, 0, len(discovered))
			for n := range discovered {
				found = append(found, n)
			}
			sort.Strings(found)
			msg += fmt.Sprintf(" (--target's cluster has %s)", strings.Join(found, ", "))
		}
		return nil, coded(exitUsage, errors.New(msg))
	}
	if len(out) == 0 {
		return nil, coded(exitUsage, errors.New("every stream is skipped: nothing to restore"))
	}
	return out, nil
}

// clusterRestoreCmd restores every stream of a store — each shard and the
// config server of a sharded cluster — to one position, each onto its own
// target. A cluster is consistent only when every replica set is at the
// same position and every one decides a cross-shard transaction alike, so
// all share one --to (and the lookahead that decides prepared transactions
// by their commitTimestamp), and nothing is written to any target until
// every stream's data has been verified and every target checked.
func clusterRestoreCmd(ctx context.Context, args []string, stdout, stderr io.Writer, log zerolog.Logger) error {
	f, err := parseClusterFlags(args, stderr)
	if err != nil {
		return err
	}
	st, keys, err := f.open(ctx, stderr)
	if err != nil {
		return err
	}
	defer closeStore(st)
	streams, err := st.Streams(ctx)
	if err != nil {
		return fmt.Errorf("list streams in %s: %w", st, err)
	}
	if len(streams) == 0 {
		return fmt.Errorf("store %s holds no streams yet: has tailerd cut a segment?", st)
	}
	sort.Strings(streams)
	var discovered map[string]string
	if f.seed != "" && !f.dryRun {
		if discovered, err = discoverTargets(ctx, f.seed, f.timeout, log); err != nil {
			return err
		}
	}
	lenient := f.dryRun && (len(f.targets.uris) == 0 || f.seed != "")
	targets, err := mapTargets(streams, f.targets.uris, discovered, f.skip, lenient)
	if err != nil {
		return err
	}
	names := make([]string, len(targets))
	for i, t := range targets {
		names[i] = t.Stream
	}
	opts, report, err := f.clusterOptions()
	if err != nil {
		return coded(exitUsage, err)
	}
	defer report.close()
	base := restore.Options{Drop: f.drop, Workers: f.workers, Apply: opts, Keys: keys.ring, RequireEncryption: keys.require}
	to, preps, err := restore.PrepareCluster(ctx, st, names, f.to, base)
	if err != nil {
		return replayError(err, f.store)
	}
	if f.dryRun {
		printClusterPlan(stdout, to, f.to == oplog.Max, targets, preps, f.skip)
		return nil
	}
	c := &clusterRun{f: f, st: st, to: to, targets: targets, preps: preps, report: report, base: base, log: log, stdout: stdout}
	return c.run(ctx)
}

// discoverTargets maps the target cluster's replica sets to stream names:
// a shard by its _id, the config server by its replica set name.
func discoverTargets(ctx context.Context, seed string, timeout time.Duration, log zerolog.Logger) (map[string]string, error) {
	top, err := topology.Discover(ctx, seed, topology.Options{Log: log, Timeout: timeout})
	if err != nil {
		return nil, coded(exitTarget, fmt.Errorf("--target %s: discover the target cluster: %w", topology.RedactURI(seed), err))
	}
	out := map[string]string{}
	for _, rs := range top.ReplicaSets {
		log.Info().Str("stream", rs.Name).Str("role", string(rs.Role)).Str("target", rs.RedactedURI()).Msg("target discovered")
		out[rs.Name] = rs.URI
	}
	return out, nil
}

// printClusterPlan shows what a cluster restore would read and where it
// would write, stream by stream.
func printClusterPlan(w io.Writer, to oplog.Timestamp, latest bool, targets []streamTarget, preps []*restore.Prepared, skipped []string) {
	how := "as given"
	if latest {
		how = "the latest position restorable on every stream"
	}
	fmt.Fprintf(w, "plan: restore the cluster (%d streams) to %s (%s), %s\n", len(preps), to, to.Time().Format(time.RFC3339), how)
	for _, s := range skipped {
		fmt.Fprintf(w, "  stream %s: skipped (--skip-stream), left as it is\n", s)
	}
	for i, p := range preps {
		target := "no target given"
		if targets[i].URI != "" {
			target = topology.RedactURI(targets[i].URI)
		}
		fmt.Fprintf(w, "stream %s -> %s\n", p.Stream, target)
		printPlan(w, p)
	}
}

// clusterRun is a cluster restore under way.
type clusterRun struct {
	f       *clusterFlags
	st      store.Store
	to      oplog.Timestamp
	targets []streamTarget
	preps   []*restore.Prepared
	report  *unsupportedReport
	base    restore.Options
	log     zerolog.Logger
	stdout  io.Writer

	clients  []*mongo.Client
	verified []*restore.Verified
	results  []restore.Result
}

func (c *clusterRun) opts(i int) restore.Options {
	o := c.base
	o.Stream, o.To = c.preps[i].Stream, c.to
	o.Apply.OnUnsupported = c.report.forStream(o.Stream)
	return o
}

// run connects, verifies, checks and only then writes; a failure before
// the writes leaves every target as it was, one during them cancels the
// other streams and is reported stream by stream.
func (c *clusterRun) run(ctx context.Context) error {
	n := len(c.preps)
	c.clients = make([]*mongo.Client, n)
	defer func() {
		for _, cl := range c.clients {
			if cl != nil {
				cl.Disconnect(context.WithoutCancel(ctx))
			}
		}
	}()
	started := time.Now()
	untouched := "; nothing was written to any target"
	errs := fanOut(ctx, c.f.parallel, n, func(ctx context.Context, i int) error {
		cl, err := connectTarget(ctx, c.targets[i].URI, c.f.timeout)
		c.clients[i] = cl
		if err != nil {
			return err
		}
		return refuseRouter(ctx, cl)
	})
	if err := c.firstError("connect to the target of", errs); err != nil {
		return wrapCoded(err, err.Error()+untouched)
	}
	c.verified = make([]*restore.Verified, n)
	errs = fanOut(ctx, c.f.parallel, n, func(ctx context.Context, i int) error {
		v, err := restore.Verify(ctx, c.st, c.preps[i], c.opts(i), c.log)
		c.verified[i] = v
		return replayError(err, c.f.store)
	})
	if err := c.firstError("verify", errs); err != nil {
		return wrapCoded(err, err.Error()+untouched)
	}
	if !c.f.drop {
		errs = fanOut(ctx, c.f.parallel, n, func(ctx context.Context, i int) error {
			return replayError(c.verified[i].CheckTarget(ctx, c.clients[i], c.opts(i)), c.f.store)
		})
		if err := c.firstError("check the target of", errs); err != nil {
			return wrapCoded(err, err.Error()+untouched+" (use --drop to replace what the targets hold)")
		}
	}
	c.results = make([]restore.Result, n)
	errs = fanOut(ctx, c.f.parallel, n, func(ctx context.Context, i int) error {
		c.log.Info().Str("stream", c.preps[i].Stream).Str("target", topology.RedactURI(c.targets[i].URI)).Msg("restoring")
		res, err := restore.Write(ctx, c.st, c.verified[i], c.clients[i], c.opts(i), c.log)
		c.results[i] = res
		return err
	})
	c.printResults(errs)
	c.printSummary(errs, time.Since(started))
	return c.failure(errs)
}

// firstError reports the streams that failed a step taken before any
// write; a stream cancelled because another failed is not one of them.
func (c *clusterRun) firstError(step string, errs []error) error {
	var msgs []string
	var first, cancelled error
	for i, err := range errs {
		switch state(errs, i) {
		case completed, notStarted:
		case interrupted:
			cancelled = err
		case failed:
			if first == nil {
				first = err
			}
			msgs = append(msgs, fmt.Sprintf("%s stream %s: %v", step, c.preps[i].Stream, err))
		}
	}
	if first == nil {
		return cancelled // nil, or the command itself was interrupted
	}
	return wrapCoded(first, strings.Join(msgs, "\n"))
}

// wrapCoded replaces err's text with msg (+ suffix), keeping its exit code.
func wrapCoded(err error, msg string) error {
	code := exitFailure
	var ce *codedError
	if errors.As(err, &ce) {
		code = ce.code
	}
	if msg == "" {
		msg = err.Error()
	}
	return coded(code, fmt.Errorf("%s%w", msg, silent{err}))
}

// silent wraps an error for errors.Is/As without adding to the text.
type silent struct{ err error }

func (s silent) Error() string { return "" }
func (s silent) Unwrap() error { return s.err }

// streamState is where one stream of a cluster restore ended.
type streamState int

const (
	completed   streamState = iota
	failed                  // its own error
	interrupted             // cancelled because another stream failed (or the command was)
	notStarted              // never began writing
)

func (s streamState) String() string {
	return [...]string{"completed", "FAILED", "interrupted", "not started"}[s]
}

func state(errs []error, i int) streamState {
	err := errs[i]
	switch {
	case err == nil:
		return completed
	case errors.Is(err, errNotStarted):
		return notStarted
	case errors.Is(err, context.Canceled):
		return interrupted
	}
	return failed
}

// printResults prints each stream's report, as a restore of one stream
// prints it.
func (c *clusterRun) printResults(errs []error) {
	for i, res := range c.results {
		if state(errs, i) != completed {
			continue
		}
		base := "the start of capture"
		if res.Snapshot != nil {
			base = "snapshot " + res.Snapshot.ID
		}
		fmt.Fprintf(c.stdout, "stream %s: restored to %s from %s and %d segments\n", res.Stream, res.Plan.To, base, len(res.Plan.Segments))
		if res.Snapshot != nil {
			fmt.Fprintf(c.stdout, "  snapshot: %d collections, %d views, %d documents\n", res.Load.Collections, res.Load.Views, res.Load.Docs)
		}
		printSummary(c.stdout, res.Replay, res.Namespaces, c.report.skipped(res.Stream), c.f.skipUnsupported)
	}
}

// printSummary closes the report: one line per stream, one for the cluster.
func (c *clusterRun) printSummary(errs []error, took time.Duration) {
	ok, unresolved := 0, 0
	for i, p := range c.preps {
		s := state(errs, i)
		line := fmt.Sprintf("summary: stream %-12s %-11s", p.Stream, s)
		switch s {
		case completed:
			r := c.results[i].Replay
			ok++
			unresolved += len(r.Unresolved)
			line += fmt.Sprintf(" to %s, %d entries, last applied %s", c.to, r.Entries, r.Applied)
			if len(r.Unresolved) > 0 {
				line += fmt.Sprintf(", WARNING: %d prepared transactions unresolved", len(r.Unresolved))
			}
		case failed:
			line += ": " + firstLine(errs[i].Error())
		}
		fmt.Fprintln(c.stdout, line)
	}
	for _, s := range c.f.skip {
		fmt.Fprintf(c.stdout, "summary: stream %-12s %-11s (--skip-stream)\n", s, "skipped")
	}
	if ok == len(c.preps) {
		msg := fmt.Sprintf("summary: cluster restored: %d streams to %s (%s) in %s", ok, c.to, c.to.Time().Format(time.RFC3339), took.Round(time.Millisecond))
		if len(c.f.skip) > 0 {
			msg += fmt.Sprintf("; NOT restored (--skip-stream): %s", strings.Join(c.f.skip, ", "))
		}
		if unresolved > 0 {
			msg += fmt.Sprintf("; WARNING: %d prepared transactions unresolved (see each stream): the cluster may hold part of a distributed transaction", unresolved)
		}
		fmt.Fprintln(c.stdout, msg)
		return
	}
	fmt.Fprintf(c.stdout, "summary: cluster NOT consistent: %d of %d streams restored to %s; the others hold a partial restore or none\n", ok, len(c.preps), c.to)
}

// failure turns the write phase's errors into the command's error: the
// first stream's own failure, its exit code, and how to finish.
func (c *clusterRun) failure(errs []error) error {
	var first, code error
	var redo []string
	for i, err := range errs {
		s := state(errs, i)
		if s == completed {
			continue
		}
		if s == failed && first == nil {
			// The exit code a restore of this stream alone would give; the
			// advice is the cluster's, below.
			first, code = fmt.Errorf("stream %s: %w", c.preps[i].Stream, err), replayError(err, c.f.store)
		}
		resume := "--drop"
		var se *replay.StoppedError
		if errors.As(err, &se) && !se.Applied.IsZero() {
			resume = resumeArgs(se)
		} else if s == notStarted {
			resume = ""
		}
		if c.f.keys.file != "" {
			resume += " --encryption-key-file " + c.f.keys.file
		}
		if c.f.keys.allowUnencrypted {
			resume += " --allow-unencrypted"
		}
		redo = append(redo, fmt.Sprintf("  replayer restore --store %s --stream %s --target %s --to %s %s", c.f.store, c.preps[i].Stream,
			topology.RedactURI(c.targets[i].URI), c.to, strings.TrimSpace(resume)))
	}
	if len(redo) == 0 {
		return nil
	}
	if first == nil {
		// No stream failed on its own: the command itself was interrupted.
		first = fmt.Errorf("interrupted: %w", context.Canceled)
		code = first
	}
	msg := fmt.Sprintf("%v\nThe cluster is NOT consistent: the streams above that did not complete are not at %s. Once the cause is fixed, "+
		"run the same cluster restore again with --drop, or finish each of those streams alone at the same position (with the same selection flags):\n%s",
		first, c.to, strings.Join(redo, "\n"))
	return wrapCoded(code, msg)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// errNotStarted marks work fanOut never began because another failed.
var errNotStarted = errors.New("not started: another stream failed first")

// fanOut runs fn for 0..n-1, at most limit at once. The first failure
// cancels the context of the others (a running fn sees ctx done; those not
// begun get errNotStarted). It returns each one's error.
func fanOut(ctx context.Context, limit, n int, fn func(context.Context, int) error) []error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, n)
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			errs[i] = errNotStarted
			continue
		}
		if ctx.Err() != nil {
			<-sem
			errs[i] = errNotStarted
			continue
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(ctx, i); err != nil {
				errs[i] = err
				cancel()
			}
		}(i)
	}
	wg.Wait()
	return errs
}

// targetHosts lists the servers a target URI names, as host:port in lower
// case (27017 when no port is given), so that two spellings of one replica
// set are seen as the same target.
func targetHosts(uri string) []string {
	if uri == "" {
		return nil
	}
	cs, err := connstring.Parse(uri)
	if err != nil {
		return []string{uri} // refused when connecting, with its own message
	}
	out := make([]string, 0, len(cs.Hosts))
	for _, h := range cs.Hosts {
		h = strings.ToLower(h)
		if _, _, err := net.SplitHostPort(h); err != nil {
			h = net.JoinHostPort(h, "27017")
		}
		out = append(out, h)
	}
	return out
}

// refuseRouter refuses a mongos as a stream's target: each stream is one
// replica set's oplog, and applied through a router its writes (chunk
// migrations' deletes among them) would reach every shard.
func refuseRouter(ctx context.Context, cl *mongo.Client) error {
	var hello struct {
		Msg string `bson:"msg"`
	}
	if err := cl.Database("admin").RunCommand(ctx, bson.D{{Key: "hello", Value: 1}}).Decode(&hello); err != nil {
		return coded(exitTarget, fmt.Errorf("hello: %w", err))
	}
	if hello.Msg == "isdbgrid" {
		return coded(exitUsage, errors.New("the target is a mongos: give each stream the replica set it restores into (--target-for NAME=URI), or the cluster's mongos or config server as --target to discover them"))
	}
	return nil
}
