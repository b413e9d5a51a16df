package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/rs/zerolog"

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
	if *file == "" || tf.target == "" {
		return coded(exitUsage, errors.New("--oplog-file and --target are required"))
	}
	pos, err := parseTo(tf.to)
	if err != nil {
		return err
	}
	opts, closeReport, err := tf.options()
	if err != nil {
		return coded(exitUsage, err)
	}
	client, err := connectTarget(ctx, tf.target, tf.timeout)
	if err != nil {
		return err
	}
	defer client.Disconnect(context.WithoutCancel(ctx))
	started := time.Now()
	existing := replay.Keep
	if tf.drop {
		existing = replay.Drop
	}
	stats, namespaces, err := replay.Replay(ctx, replay.OplogFile(*file, pos), client, opts, existing, log)
	skipped, cerr := closeReport()
	if err := replayError(err, ""); err != nil {
		return err
	}
	if cerr != nil {
		return cerr
	}
	fmt.Fprintf(stdout, "applied %s in %s\n", *file, time.Since(started).Round(time.Millisecond))
	printSummary(stdout, stats, namespaces, skipped, tf.skipUnsupported)
	return nil
}
