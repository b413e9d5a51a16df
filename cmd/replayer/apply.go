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
	target := fs.String("target", "", "MongoDB URI to apply to (required)")
	to := fs.String("to", "latest", "last position to include: T.I, T, RFC 3339 or latest")
	drop := fs.Bool("drop", false, "drop the namespaces the entries write before applying (default: apply on top of what the target holds, e.g. a restored dump)")
	timeout := fs.Duration("connect-timeout", 15*time.Second, "how long to wait for the target")
	var af applyFlags
	af.register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return coded(exitOK, err)
		}
		return coded(exitUsage, err)
	}
	if *file == "" || *target == "" {
		return coded(exitUsage, errors.New("--oplog-file and --target are required"))
	}
	pos, err := parseTo(*to)
	if err != nil {
		return err
	}
	opts, closeReport, err := af.options()
	if err != nil {
		return coded(exitUsage, err)
	}
	client, err := connectTarget(ctx, *target, *timeout)
	if err != nil {
		return err
	}
	defer client.Disconnect(context.WithoutCancel(ctx))
	started := time.Now()
	existing := replay.Keep
	if *drop {
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
	printSummary(stdout, stats, namespaces, skipped, af.skipUnsupported)
	return nil
}
