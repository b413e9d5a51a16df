package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/plan"
	"github.com/tidelog/tidelog/replay"
	"github.com/tidelog/tidelog/restore"
	"github.com/tidelog/tidelog/segment"
	"github.com/tidelog/tidelog/snapshot"
	"github.com/tidelog/tidelog/topology"
)

func restoreCmd(ctx context.Context, args []string, stdout, stderr io.Writer, log zerolog.Logger) error {
	if wantCluster(args) {
		return clusterRestoreCmd(ctx, args, stdout, stderr, log)
	}
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Bool("cluster", false, "restore every stream of the store to one position, each onto its own target: see `replayer restore --cluster -h`")
	var sf storeFlags
	sf.register(fs)
	stream := fs.String("stream", "", "stream to restore (needed when the store holds several)")
	dryRun := fs.Bool("dry-run", false, "print the plan (snapshot, segments, bytes, entries) and exit without connecting to the target")
	workers := fs.Int("workers", 4, "collections loaded from the snapshot at once")
	var tf targetFlags
	tf.register(fs, "replace namespaces the target already holds")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *workers < 1 || *workers > 64 {
		return coded(exitUsage, fmt.Errorf("--workers %d: want 1 to 64", *workers))
	}
	if *dryRun {
		tf.target = "dry-run" // --target is not needed to plan
	}
	to, err := tf.validate()
	if err != nil {
		return err
	}
	st, keys, err := sf.open(ctx, stderr)
	if err != nil {
		return err
	}
	defer closeStore(st)
	if *dryRun {
		prep, err := restore.Prepare(ctx, st, restore.Options{Stream: *stream, To: to, Apply: replay.Options{IncludeUsers: tf.includeUsers},
			Keys: keys.ring, RequireEncryption: keys.require})
		if err != nil {
			return replayError(err, sf.store)
		}
		printPlan(stdout, prep)
		return nil
	}
	run, err := tf.start(ctx)
	if err != nil {
		return err
	}
	started := time.Now()
	res, err := restore.Run(ctx, st, run.client, restore.Options{Stream: *stream, To: run.to, Drop: tf.drop, Workers: *workers, Apply: run.opts,
		Progress: display(stderr, log), Keys: keys.ring, RequireEncryption: keys.require}, log)
	skipped, err := run.finish(ctx, err, sf.store)
	if err != nil {
		return err
	}
	to = res.Plan.To
	base := "the start of capture"
	if res.Snapshot != nil {
		base = "snapshot " + res.Snapshot.ID
	}
	fmt.Fprintf(stdout, "restored stream %s to %s (%s) from %s and %d segments in %s\n",
		res.Stream, to, to.Time().Format(time.RFC3339), base, len(res.Plan.Segments), time.Since(started).Round(time.Millisecond))
	if res.Snapshot != nil {
		fmt.Fprintf(stdout, "  snapshot: %d collections, %d views, %d documents (its indexes are built after the replay, below)\n",
			res.Load.Collections, res.Load.Views, res.Load.Docs)
	}
	printSummary(stdout, res.Replay, res.Namespaces, skipped, tf.skipUnsupported)
	printUnreadable(stdout, res.Unreadable)
	return nil
}

// printPlan shows what a restore would read and write.
func printPlan(w io.Writer, p *restore.Prepared) {
	fmt.Fprintf(w, "plan: restore stream %s to %s (%s)\n", p.Stream, p.Plan.To, p.Plan.To.Time().Format(time.RFC3339))
	if s := p.Snapshot; s != nil {
		fmt.Fprintf(w, "  1. load snapshot %s (consistent from %s): %d collections, %d documents, %d bytes (%d stored in %d files)\n",
			s.ID, s.End, len(s.Collections), s.Docs, s.Bytes, s.StoredBytes, s.Files)
		fmt.Fprintf(w, "  2. replay entries %s..%s\n", p.Plan.From, p.Plan.To)
	} else {
		fmt.Fprintf(w, "  1. no snapshot: replay from the start of capture onto an empty target, through %s\n", p.Plan.To)
	}
	fmt.Fprintf(w, "     from %d segments: at most %d entries, %d bytes\n", len(p.Plan.Segments), p.Plan.Entries, p.Plan.Bytes)
	for _, s := range p.Plan.Segments {
		fmt.Fprintf(w, "     %s\n", s.Name)
	}
	printUnreadable(w, p.Unreadable)
}

// printUnreadable notes the snapshots a plan left out because they could
// not be read (a key not given): the restore is exact without them, but
// may replay more.
func printUnreadable(w io.Writer, us []snapshot.Unreadable) {
	for _, u := range us {
		fmt.Fprintf(w, "  note: snapshot %s left out of the plan: %v\n", u.ID, u.Err)
	}
}

func parseTo(s string) (oplog.Timestamp, error) {
	if s == "latest" || s == "" {
		return oplog.Max, nil
	}
	p, err := oplog.Parse(s)
	if err != nil {
		return oplog.Timestamp{}, coded(exitUsage, fmt.Errorf("--to: %w", err))
	}
	return p, nil
}

func connectTarget(ctx context.Context, uri string, timeout time.Duration) (*mongo.Client, error) {
	if err := topology.ValidateURI(uri); err != nil {
		return nil, coded(exitUsage, fmt.Errorf("--target is not a valid MongoDB URI: %w", err))
	}
	copts := options.Client().ApplyURI(uri).SetServerSelectionTimeout(timeout).SetAppName("tidelog-replayer")
	if err := targetPassword(copts, os.LookupEnv); err != nil {
		return nil, coded(exitUsage, err)
	}
	client, err := mongo.Connect(copts)
	if err != nil {
		return nil, coded(exitTarget, fmt.Errorf("connect to the target: %w", err))
	}
	if err := client.Ping(ctx, nil); err != nil {
		client.Disconnect(context.WithoutCancel(ctx))
		return nil, coded(exitTarget, fmt.Errorf("target unreachable: %w", err))
	}
	return client, nil
}

// replayError maps a replay failure to its exit code.
func replayError(err error, storeDir string) error {
	if err == nil {
		return nil
	}
	var se *replay.StoppedError
	switch {
	case errors.As(err, &se) && se.Applied.IsZero():
		err = fmt.Errorf("%w\nThe target holds a partial replay. Once the cause is fixed, run the same command again with --drop to start over", err)
	case errors.As(err, &se):
		err = fmt.Errorf("%w\nThe target holds a partial replay. Once the cause is fixed, run the same command again with %s to finish it (or start over with --drop)", err, resumeArgs(se))
	}
	var we *plan.WindowError
	var cle *plan.ClusterError
	var ce *replay.ConflictError
	var ue *replay.UnsupportedError
	if code, ok := keyErrorCode(err); ok {
		// Before the window: a snapshot left out for want of its key may
		// be why the position is not restorable.
		return coded(code, err)
	}
	switch {
	case errors.As(err, &we), errors.As(err, &cle):
		return coded(exitWindow, err)
	case errors.As(err, &ce):
		return coded(exitConflict, err)
	case errors.As(err, &ue):
		return coded(exitUnsupported, fmt.Errorf("%w (or pass --skip-unsupported FILE to skip such entries and list them in FILE)", err))
	case errors.Is(err, snapshot.ErrCorrupt):
		return coded(exitDamaged, fmt.Errorf("%w; run `replayer verify --store %s` for a full report", err, storeDir))
	case errors.Is(err, segment.ErrCorrupt):
		return coded(exitDamaged, fmt.Errorf("%w; run `replayer verify --store %s` for a full report", err, storeDir))
	}
	return err
}

func printSummary(w io.Writer, s replay.Stats, namespaces []string, skipped int, report string) {
	fmt.Fprintf(w, "  entries %d: inserts %d, updates %d, deletes %d, commands %d, no-ops %d, left out %d; indexes built after the data %d; last applied %s\n",
		s.Entries, s.Inserts, s.Updates, s.Deletes, s.Commands, s.NoOps, s.Skipped, s.IndexesBuilt, s.Applied)
	if s.Resumed > 0 {
		fmt.Fprintf(w, "  resumed: %d entries through --after (or --written) were written by the earlier run and skipped\n", s.Resumed)
	}
	fmt.Fprintf(w, "  namespaces: %s\n", strings.Join(namespaces, ", "))
	if skipped > 0 {
		fmt.Fprintf(w, "  WARNING: %d entries could not be applied and were skipped; each is listed in %s\n", skipped, report)
	}
	if n := len(s.Unresolved); n > 0 {
		fmt.Fprintf(w, "  WARNING: %d prepared transactions open at --to were not applied: their commit or abort is not in the data after it, so whether they committed by then is unknown (each is named in the log)\n", n)
	}
	if s.UpdateMisses > 0 {
		fmt.Fprintf(w, "  WARNING: %d updates found no document: those documents existed before capture began, so the restore is not exact for them\n", s.UpdateMisses)
	}
}
