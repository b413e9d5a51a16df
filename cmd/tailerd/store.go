package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/rs/zerolog"

	"github.com/tidelog/tidelog/store"
	"github.com/tidelog/tidelog/store/s3store"
	"github.com/tidelog/tidelog/store/storeurl"
)

// storeHelp is --store's help: every form a location may take.
const storeHelp = "where to keep segments and snapshots (required): a directory (created if missing) or file:///DIR, " +
	"s3://BUCKET[/PREFIX]?endpoint=HOST:PORT[&region=R&path_style=true&tls=false&ca_file=FILE] " +
	"(credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, MINIO_ROOT_USER/MINIO_ROOT_PASSWORD or ~/.aws/credentials, never the URL), " +
	"or kafka://HOST:PORT[,HOST:PORT...][/TOPICPREFIX][?replication_factor=N&min_insync_replicas=N&max_message_bytes=N]; see docs/store-layout.md"

// checkpointDir checks the store location and returns the checkpoint
// directory: --checkpoint, or STORE/checkpoint for a directory store. A
// bucket or a Kafka cluster has no local directory to default to, and the
// checkpoint (Pebble) must be on the machine tailerd runs on, so there it
// must be given.
func checkpointDir(storeLoc, checkpoint string) (string, error) {
	loc, err := storeurl.Parse(storeLoc)
	if err != nil {
		return "", fmt.Errorf("--store: %w", err)
	}
	if checkpoint != "" {
		return checkpoint, nil
	}
	dir, ok := loc.LocalDir()
	if !ok {
		return "", fmt.Errorf("--checkpoint DIR is required for %s stores: the checkpoint is a local directory on this machine "+
			"(a lost one is rebuilt from the store)", loc.Kind)
	}
	return filepath.Join(dir, "checkpoint"), nil
}

// openStore opens the store, creating it if the location is empty. Each
// failed S3 request is logged before its retry, so an outage shows in the
// log while it lasts, not only once the store's retry budget is spent.
func openStore(ctx context.Context, loc string, log zerolog.Logger) (store.Store, error) {
	st, err := storeurl.Open(ctx, loc, storeurl.Options{
		Create: true,
		OnS3Retry: func(ev s3store.RetryEvent) {
			log.Warn().Err(ev.Err).Str("op", ev.Op).Int("attempt", ev.Attempt).Dur("retry_in", ev.Delay).
				Msg("store request failed; retrying")
		},
	})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return st, nil
}
