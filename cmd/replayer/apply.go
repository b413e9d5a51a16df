package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/rs/zerolog"

	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/replay"
)

// applyCmd replays a file of concatenated BSON oplog entries (mongodump's
// oplog.bson, say) with the same engine and options as restore.
func applyCmd(ctx context.Context, args []string, stdout, stderr io.Writer, log zerolog.Logger) error {
	fs := flag.NewFlagSet("apply", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("oplog-file", "", "file of concatenated BSON oplog entries (required)")
	var tf targetFlags
	tf.register(fs, "drop the namespaces the entries write before applying (default: apply on top of what the target holds, e.g. a restored dump)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *file == "" {
		return coded(exitUsage, errors.New("--oplog-file is required"))
	}
	run, err := tf.start(ctx)
	if err != nil {
		return err
	}
	existing := replay.Keep
	if tf.drop {
		existing = replay.Drop
	}
	started := time.Now()
	opts := run.opts
	opts.Lookahead = lookahead(run.to, *file)
	stats, namespaces, err := replay.Replay(ctx, replay.OplogFile(*file, run.to), run.client, opts, existing, log)
	skipped, err := run.finish(ctx, err, "")
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "applied %s in %s\n", *file, time.Since(started).Round(time.Millisecond))
	printSummary(stdout, stats, namespaces, skipped, tf.skipUnsupported)
	return nil
}

// lookahead lets a replay cut at --to read on in the oplog files, given in
// order, for the commit or abort of prepared transactions open at --to, so
// that they are applied iff their commitTimestamp is at or before it (see
// replay.Lookahead). Without --to nothing follows the cut.
func lookahead(to oplog.Timestamp, files ...string) replay.Lookahead {
	if to == oplog.Max {
		return replay.Lookahead{}
	}
	after := make([]replay.Source, len(files))
	for i, f := range files {
		after[i] = replay.OplogFileAfter(f, to)
	}
	return replay.Lookahead{To: to, Source: replay.Concat(after...)}
}
