package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/tidelog/tidelog/store"
	"github.com/tidelog/tidelog/store/s3store"
	"github.com/tidelog/tidelog/store/spool"
	"github.com/tidelog/tidelog/store/storeurl"
)

// storeHelp is --store's help: every form a location may take.
const storeHelp = "where to keep segments and snapshots (required; a directory is created if missing): " + storeurl.Forms +
	". S3 credentials come from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, MINIO_ROOT_USER/MINIO_ROOT_PASSWORD or ~/.aws/credentials, " +
	"the Kafka password from password_file or " + storeurl.KafkaPasswordEnv + ", never from the location; see docs/store-layout.md and docs/security.md"

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
// log while it lasts, not only once the store's retry budget is spent;
// with quietOpen, those of the opening itself are logged at debug level
// only (openStoresWaiting logs each wait instead), and those after it as
// always.
func openStore(ctx context.Context, loc string, log zerolog.Logger, quietOpen bool) (store.Store, error) {
	var opened atomic.Bool
	st, err := storeurl.Open(ctx, loc, storeurl.Options{
		Create: true,
		OnS3Retry: func(ev s3store.RetryEvent) {
			e := log.Warn()
			if quietOpen && !opened.Load() {
				e = log.Debug()
			}
			e.Err(ev.Err).Str("op", ev.Op).Int("attempt", ev.Attempt).Dur("retry_in", ev.Delay).
				Msg("store request failed; retrying")
		},
	})
	opened.Store(true)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return st, nil
}

// primaryDest names the --store location among a spool's destinations. It
// is a file name in the spool directory, so it must never change.
const primaryDest = "store"

// publishConfig is one more store segments are published to (--publish-to
// NAME=LOCATION, or publish_to in the config file).
type publishConfig struct {
	Name  string `yaml:"name"`
	Store string `yaml:"store"`
}

// publishFlags collects --publish-to NAME=LOCATION flags.
type publishFlags struct{ list *[]publishConfig }

func (f publishFlags) String() string {
	if f.list == nil {
		return ""
	}
	return fmt.Sprint(len(*f.list), " stores")
}

// Set takes a malformed value too, without a name, for checkPublish to
// refuse: an error here would have the flag package repeat the value, and
// with it any credentials wrongly put in the location.
func (f publishFlags) Set(v string) error {
	name, loc, ok := strings.Cut(v, "=")
	if !ok {
		name, loc = "", v
	}
	*f.list = append(*f.list, publishConfig{Name: name, Store: loc})
	return nil
}

// checkPublish checks the fan-out settings without opening anything.
func (c config) checkPublish() error {
	if len(c.PublishTo) == 0 {
		if c.Spool != "" {
			return errors.New("--spool is for fan-out: it needs --publish-to NAME=LOCATION")
		}
		return nil
	}
	if c.Spool == "" {
		return errors.New("--publish-to needs --spool DIR: a local directory where segments wait until every store has them")
	}
	if c.SpoolMaxBytes < 1<<20 {
		return fmt.Errorf("--spool-max-bytes %d: want at least 1 MiB", c.SpoolMaxBytes)
	}
	seen := map[string]bool{primaryDest: true}
	for _, p := range c.PublishTo {
		if p.Name == "" || p.Store == "" {
			return errors.New("--publish-to wants NAME=LOCATION, e.g. standby=kafka://k1:9092/tidelog")
		}
		if !store.PlainName(p.Name) || strings.HasPrefix(p.Name, ".") {
			// Not repeated: a location given without "NAME=" puts its
			// start, maybe user:password@, before the first '='.
			return errors.New("--publish-to NAME=LOCATION: the name may hold only letters, digits, '.', '_' and '-' (and the location no credentials)")
		}
		if seen[p.Name] {
			return fmt.Errorf("--publish-to %s: name used twice (%q names --store)", p.Name, primaryDest)
		}
		seen[p.Name] = true
		if _, err := storeurl.Parse(p.Store); err != nil {
			return fmt.Errorf("--publish-to %s: %w", p.Name, err)
		}
	}
	if dir, ok := mustLocal(c.Store); ok && filepath.Clean(dir) == filepath.Clean(c.Spool) {
		return errors.New("--spool must be a directory of its own, not the store")
	}
	return nil
}

func mustLocal(loc string) (string, bool) {
	l, err := storeurl.Parse(loc)
	if err != nil {
		return "", false
	}
	return l.LocalDir()
}

// openStores opens --store and, with --publish-to, the other stores and the
// spool that fans segments out to all of them. Snapshots and retention
// work on --store alone. close releases everything: the spool first, which
// publishes what it can within a bounded wait (the rest goes after the next
// start). quietOpen: see openStore.
func openStores(ctx context.Context, c config, log zerolog.Logger, quietOpen bool) (st store.Store, close func(), err error) {
	primary, err := openStore(ctx, c.Store, log, quietOpen)
	if err != nil {
		return nil, nil, err
	}
	closeAll := []store.Store{primary}
	closeStores := func() {
		for _, s := range closeAll {
			if err := storeurl.Close(s); err != nil {
				log.Warn().Err(err).Stringer("store", s).Msg("closing the store")
			}
		}
	}
	if len(c.PublishTo) == 0 {
		return primary, closeStores, nil
	}
	dests := []spool.Dest{{Name: primaryDest, Store: primary}}
	for _, p := range c.PublishTo {
		s, err := openStore(ctx, p.Store, log.With().Str("dest", p.Name).Logger(), quietOpen)
		if err != nil {
			closeStores()
			return nil, nil, fmt.Errorf("--publish-to %s: %w", p.Name, err)
		}
		closeAll = append(closeAll, s)
		dests = append(dests, spool.Dest{Name: p.Name, Store: s})
	}
	sp, err := spool.Open(ctx, c.Spool, dests, spool.Options{MaxBytes: c.SpoolMaxBytes, Log: log.With().Str("part", "spool").Logger()})
	if err != nil {
		closeStores()
		return nil, nil, err
	}
	return sp, func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), spoolDrainWait)
		defer cancel()
		if err := sp.Close(cctx); err != nil {
			log.Warn().Err(err).Msg("closing the spool")
		}
		closeStores()
	}, nil
}

// spoolDrainWait bounds how long a stopping tailerd keeps publishing what
// the spool holds: systemd's default stop timeout is 90 s, and what is left
// is published after the next start.
const spoolDrainWait = 20 * time.Second
