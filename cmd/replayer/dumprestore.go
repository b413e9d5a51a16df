package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/rs/zerolog"

	"github.com/tidelog/tidelog/dump"
	"github.com/tidelog/tidelog/load"
	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/progress"
	"github.com/tidelog/tidelog/replay"
)

// dumpRestoreFlags are restore-dump's own flags; the target and apply
// flags are restore's.
type dumpRestoreFlags struct {
	dir, archive string
	gzip         bool
	oplogFiles   stringList
	allowGap     bool
	workers      int
	spoolDir     string
}

// restoreDumpCmd restores a mongodump (directory or archive) as a base,
// then replays the oplog mongodump --oplog captured with it and any later
// oplog files, through --to: mongorestore --oplogReplay with tidelog's
// engine, checks and exit codes.
func restoreDumpCmd(ctx context.Context, args []string, stdout, stderr io.Writer, log zerolog.Logger) error {
	fs := flag.NewFlagSet("restore-dump", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var df dumpRestoreFlags
	fs.StringVar(&df.dir, "dump", "", "mongodump output directory (this or --archive)")
	fs.StringVar(&df.archive, "archive", "", "mongodump --archive file, - for stdin (this or --dump)")
	fs.BoolVar(&df.gzip, "gzip", false, "the archive is gzip-compressed (detected anyway; given, an archive that is not is refused); a directory's .gz files are read by their names")
	fs.Var(&df.oplogFiles, "oplog-file", "oplog file (concatenated BSON entries) to replay after the dump's own oplog, in the order given (repeatable)")
	fs.BoolVar(&df.allowGap, "allow-oplog-gap", false, "accept an --oplog-file that starts after the end of the oplog before it (by default refused: entries between could be missing)")
	fs.IntVar(&df.workers, "workers", 4, "insert and index-build commands that run at once while loading the dump")
	fs.StringVar(&df.spoolDir, "spool-dir", "", "where an archive is unpacked before loading (needs its uncompressed size; default: the system temp directory)")
	var tf targetFlags
	tf.register(fs, "drop the namespaces the dump and the oplog write, where the target holds them, before loading (default: refuse such a target)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if (df.dir == "") == (df.archive == "") {
		return coded(exitUsage, errors.New("give one of --dump DIR and --archive FILE"))
	}
	if df.workers < 1 || df.workers > 64 {
		return coded(exitUsage, fmt.Errorf("--workers %d: want 1 to 64", df.workers))
	}
	if _, err := tf.validate(); err != nil {
		return err
	}
	run, err := tf.start(ctx)
	if err != nil {
		return err
	}
	started := time.Now()
	res, err := restoreDump(ctx, run, &tf, &df, display(stderr, log), log)
	skipped, err := run.finish(ctx, err, "")
	if err != nil {
		return err
	}
	printDumpRestore(stdout, res, &df, time.Since(started))
	printSummary(stdout, res.replay, res.namespaces(), skipped, tf.skipUnsupported)
	return nil
}

// dumpResult is what a restore-dump did.
type dumpResult struct {
	source      string
	loaded      bool // false when resuming (--after): the base was loaded before
	load        load.Stats
	dumpEntries int64
	dumpEnd     oplog.Timestamp
	replayed    bool
	overlap     int64
	replay      replay.Stats
	replayNS    []string
}

func (r *dumpResult) namespaces() []string {
	set := map[string]bool{}
	for _, ns := range append(append([]string(nil), r.load.Namespaces...), r.replayNS...) {
		set[ns] = true
	}
	out := make([]string, 0, len(set))
	for ns := range set {
		out = append(out, ns)
	}
	sort.Strings(out)
	return out
}

// restoreDump opens the dump, checks everything it can before the first
// write (the dump's checksums and oplog, --to against the dump's consistent
// point, every oplog entry, the target's namespaces), loads the base and
// replays the oplog over it.
func restoreDump(ctx context.Context, run *targetRun, tf *targetFlags, df *dumpRestoreFlags, show *progress.Display, log zerolog.Logger) (*dumpResult, error) {
	d, source, err := openDump(ctx, df, log)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	res := &dumpResult{source: source, dumpEntries: d.OplogEntries, dumpEnd: d.OplogEnd}
	if !d.HasOplog() && len(df.oplogFiles) == 0 && run.to != oplog.Max {
		return res, coded(exitUsage, errors.New("--to needs an oplog to stop in: the dump has none (mongodump without --oplog) and no --oplog-file was given"))
	}
	if d.HasOplog() && run.to.Before(d.OplogEnd) {
		return res, coded(exitWindow, fmt.Errorf("--to %s is before the end of the dump's oplog, %s: the dump is consistent only once its oplog is replayed through there; choose --to %s or later",
			run.to, d.OplogEnd, d.OplogEnd))
	}
	parts := []load.Part{{Name: "the dump's oplog", Source: d.Oplog(ctx, run.to)}}
	for _, f := range df.oplogFiles {
		parts = append(parts, load.Part{Name: "--oplog-file " + f, Source: replay.OplogFile(f, run.to)})
	}
	src, count := load.Chain(df.allowGap, parts...)
	// The dump's own oplog ends at or before --to: only the files go on past it.
	run.opts.Lookahead = lookahead(run.to, df.oplogFiles...)
	res, err = restoreChain(ctx, run, tf, df, d, src, res, show, log)
	res.overlap = count.Overlap
	if errors.Is(err, load.ErrChain) {
		return res, coded(exitWindow, err)
	}
	return res, err
}

// restoreChain checks the oplog and the target, loads the dump and replays
// src over it.
func restoreChain(ctx context.Context, run *targetRun, tf *targetFlags, df *dumpRestoreFlags, d *load.Dump, src replay.Source, res *dumpResult, show *progress.Display, log zerolog.Logger) (*dumpResult, error) {
	var err error

	var reserve []string
	if run.opts.After.IsZero() {
		reserve, err = replay.Check(ctx, src, run.opts, log)
		if err != nil {
			return res, err
		}
		loading := show.Phase("loading dump", 0, "docs")
		res.load, err = load.Load(ctx, run.client, d.Collections, load.Options{
			Workers: df.workers, Drop: tf.drop, Namespaces: run.opts.Namespaces, IncludeUsers: run.opts.IncludeUsers,
			Reserve: reserve, Progress: loading.Totals(), SkipIndexes: d.HasOplog() || len(df.oplogFiles) > 0,
		}, log)
		var ce *load.ConflictError
		var ue *load.UnsupportedError
		switch {
		case errors.As(err, &ce):
			return res, err
		case errors.As(err, &ue):
			also := ""
			if ue.Type == load.TypeTimeseries {
				db, coll := replay.SplitNS(ue.Source)
				also = fmt.Sprintf(" (or keep its raw buckets as a plain collection: --ns-include %s.system.buckets.%s)", db, coll)
			}
			return res, fmt.Errorf("%w\nNo document was written (namespaces created before the refusal are empty). Leave %s out with --ns-exclude%s, "+
				"or restore onto a target that supports it, with --drop to replace what this run created", err, ue.Source, also)
		case err != nil:
			return res, fmt.Errorf("%w\nThe target may hold a partial load. Once the cause is fixed, run the same command again with --drop", err)
		}
		loading.Finish()
		res.loaded = true
	} else {
		log.Info().Stringer("after", run.opts.After).Msg("resuming: the base was loaded by the run that stopped; replaying the oplog only")
		// Its indexes wait for the replay's end, which the stopped run did
		// not reach: build them at this one's.
		if res.load.Deferred, _, err = load.Deferred(ctx, d.Collections, load.Options{
			Namespaces: run.opts.Namespaces, IncludeUsers: run.opts.IncludeUsers, SkipIndexes: true}, log); err != nil {
			return res, err
		}
	}
	if !d.HasOplog() && len(df.oplogFiles) == 0 {
		return res, nil
	}
	res.replayed = true
	if res.loaded {
		// The oplog was checked before the load; only the writing pass is
		// left. The dump's indexes are built after it: a dump taken during
		// writes can break a unique rule until its oplog is replayed.
		opts := run.opts
		opts.Indexes = res.load.Deferred
		res.replay, err = replay.Write(ctx, src, run.client, opts, log)
		res.replayNS = reserve
	} else {
		opts := run.opts
		opts.Indexes = res.load.Deferred
		res.replay, res.replayNS, err = replay.Replay(ctx, src, run.client, opts, replay.Keep, log)
	}
	return res, err
}

// openDump opens --dump or --archive; a damaged dump maps to exit 4.
func openDump(ctx context.Context, df *dumpRestoreFlags, log zerolog.Logger) (*load.Dump, string, error) {
	var d *load.Dump
	var err error
	source := df.dir
	if df.dir != "" {
		d, err = load.FromDir(ctx, df.dir, log)
	} else {
		source = df.archive
		d, err = openArchive(ctx, df, log)
	}
	var re *dump.ReadError
	if errors.As(err, &re) {
		return nil, source, coded(exitDamaged, fmt.Errorf("the dump is damaged or not a mongodump: %w", err))
	}
	if err != nil {
		return nil, source, err
	}
	return d, source, nil
}

func openArchive(ctx context.Context, df *dumpRestoreFlags, log zerolog.Logger) (*load.Dump, error) {
	var in io.Reader = os.Stdin
	if df.archive != "-" {
		f, err := os.Open(df.archive)
		if err != nil {
			return nil, fmt.Errorf("--archive: %w", err)
		}
		defer f.Close()
		in = f
	}
	br := bufio.NewReaderSize(in, 64<<10)
	if df.gzip {
		if magic, _ := br.Peek(2); len(magic) < 2 || magic[0] != 0x1f || magic[1] != 0x8b {
			return nil, coded(exitUsage, fmt.Errorf("--gzip: %s is not gzip-compressed", df.archive))
		}
	}
	log.Info().Str("archive", df.archive).Msg("unpacking the archive (verifying its checksums) before writing anything")
	return load.FromArchive(ctx, br, df.spoolDir, log)
}

// progressLog logs a namespace's document count every 100,000 documents.
func printDumpRestore(w io.Writer, r *dumpResult, df *dumpRestoreFlags, took time.Duration) {
	if r.loaded {
		l := r.load
		fmt.Fprintf(w, "restored dump %s in %s: %d collections, %d views, %d documents (%d bytes), %d indexes built after the data (%d more after the oplog); %d namespaces left out\n",
			r.source, took.Round(time.Millisecond), l.Collections, l.Views, l.Docs, l.Bytes, l.IndexesBuilt, len(l.Deferred), l.LeftOut)
	} else {
		fmt.Fprintf(w, "resumed the replay over dump %s in %s (the base was loaded before)\n", r.source, took.Round(time.Millisecond))
	}
	if !r.replayed {
		fmt.Fprintln(w, "  no oplog to replay: the dump has none and no --oplog-file was given")
		return
	}
	what := "no oplog of its own"
	if r.dumpEntries > 0 || !r.dumpEnd.IsZero() {
		what = fmt.Sprintf("its oplog of %d entries (consistent from %s)", r.dumpEntries, r.dumpEnd)
	}
	fmt.Fprintf(w, "  replayed %s and %d further oplog files; %d entries already covered by an earlier file skipped\n",
		what, len(df.oplogFiles), r.overlap)
}
