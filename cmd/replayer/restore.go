package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/replay"
	"github.com/tidelog/tidelog/segment"
)

func restoreCmd(ctx context.Context, args []string, stdout, stderr io.Writer, log zerolog.Logger) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	storeDir := fs.String("store", "", "store directory written by tailerd (required)")
	target := fs.String("target", "", "MongoDB URI to restore into (required)")
	to := fs.String("to", "latest", "last position to include: T.I, T, RFC 3339 or latest")
	stream := fs.String("stream", "", "stream to restore (needed when the store holds several)")
	drop := fs.Bool("drop", false, "replace namespaces the target already holds")
	timeout := fs.Duration("connect-timeout", 15*time.Second, "how long to wait for the target")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return coded(exitOK, err)
		}
		return coded(exitUsage, err)
	}
	if *target == "" {
		return coded(exitUsage, errors.New("--target is required"))
	}
	pos := oplog.Max
	if *to != "latest" && *to != "" {
		p, err := oplog.Parse(*to)
		if err != nil {
			return coded(exitUsage, fmt.Errorf("--to: %w", err))
		}
		pos = p
	}
	st, err := openStore(ctx, *storeDir)
	if err != nil {
		return err
	}
	copts := options.Client().ApplyURI(*target).SetServerSelectionTimeout(*timeout).SetAppName("tidelog-replayer")
	if err := copts.Validate(); err != nil {
		return coded(exitUsage, fmt.Errorf("--target is not a valid MongoDB URI: %w", err))
	}
	client, err := mongo.Connect(copts)
	if err != nil {
		return coded(exitTarget, fmt.Errorf("connect to the target: %w", err))
	}
	defer client.Disconnect(context.WithoutCancel(ctx))
	if err := client.Ping(ctx, nil); err != nil {
		return coded(exitTarget, fmt.Errorf("target unreachable: %w", err))
	}

	started := time.Now()
	res, err := replay.Restore(ctx, st, client, replay.RestoreOptions{Stream: *stream, To: pos, Drop: *drop}, log)
	var we *replay.WindowError
	var ce *replay.ConflictError
	var ue *replay.UnsupportedError
	switch {
	case errors.As(err, &we):
		return coded(exitWindow, err)
	case errors.As(err, &ce):
		return coded(exitConflict, err)
	case errors.As(err, &ue):
		return coded(exitUnsupported, err)
	case errors.Is(err, segment.ErrCorrupt):
		return coded(exitDamaged, fmt.Errorf("%w; run `replayer verify --store %s` for a full report", err, *storeDir))
	case err != nil:
		return err
	}
	s := res.Stats
	fmt.Fprintf(stdout, "restored stream %s to %s (%s) from %d segments in %s\n",
		res.Stream, res.To, res.To.Time().Format(time.RFC3339), res.Segments, time.Since(started).Round(time.Millisecond))
	fmt.Fprintf(stdout, "  entries %d: inserts %d, updates %d, deletes %d, no-ops %d; last applied %s\n",
		s.Entries, s.Inserts, s.Updates, s.Deletes, s.NoOps, s.Applied)
	fmt.Fprintf(stdout, "  namespaces: %s\n", strings.Join(res.Namespaces, ", "))
	if s.UpdateMisses > 0 {
		fmt.Fprintf(stdout, "  WARNING: %d updates found no document: those documents existed before capture began, so the restore is not exact for them\n", s.UpdateMisses)
	}
	return nil
}
