package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
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
// only (openStoresWaiting, or the spool for a store it opens later, logs
// each wait instead), and those after it as always.
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
//
// Only --store must be reachable now: the spool reads its listing (the
// tailer resumes from it) and snapshots go to it. A --publish-to store
// that cannot be reached (unreachable) is left to its publisher in the
// spool, which opens it once it can, while capture goes on to the others:
// the spool exists to ride out that store's outage, at start as at run
// time. One that answers no fails the start, as --store does.
func openStores(ctx context.Context, c config, log zerolog.Logger, quietOpen bool) (st store.Store, close func(), err error) {
	primary, err := openStore(ctx, c.Store, log, quietOpen)
	if err != nil {
		return nil, nil, err
	}
	var (
		mu       sync.Mutex // guards closeAll: publishers add the stores they open
		closeAll = []store.Store{primary}
	)
	closeStores := func() {
		mu.Lock()
		defer mu.Unlock()
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
	opened := openPublishTo(ctx, c.PublishTo, log, quietOpen)
	for _, o := range opened {
		if o.err == nil {
			closeAll = append(closeAll, o.st)
		}
	}
	for i, p := range c.PublishTo {
		s, err := opened[i].st, opened[i].err
		if err == nil {
			dests = append(dests, spool.Dest{Name: p.Name, Store: s})
			continue
		}
		if ctx.Err() != nil || !unreachable(err) {
			closeStores()
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			return nil, nil, fmt.Errorf("--publish-to %s: %w", p.Name, err)
		}
		dlog := log.With().Str("dest", p.Name).Logger()
		dlog.Warn().Err(err).Msg("--publish-to " + p.Name + " cannot be reached at start: capture goes on to the other stores, " +
			"its segments wait in --spool until it can be opened (tailerd keeps trying); if the spool fills (--spool-max-bytes), capture pauses")
		dests = append(dests, spool.Dest{Name: p.Name, Location: describeLocation(p.Store), OpenErr: err,
			Open: func(ctx context.Context) (store.Store, error) {
				s, err := openStore(ctx, p.Store, dlog, true)
				if err != nil {
					return nil, err
				}
				mu.Lock()
				defer mu.Unlock()
				closeAll = append(closeAll, s)
				return s, nil
			}})
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
		// After Close: its publishers, which may still open stores, are stopped.
		closeStores()
	}, nil
}

// openedStore is one --publish-to store tried at start.
type openedStore struct {
	st  store.Store
	err error
}

// openPublishTo tries each --publish-to store once, all at the same time,
// each for at most publishOpenAtStart: one that neither answers nor fails
// (a black-holed address) must not hold capture up either.
func openPublishTo(ctx context.Context, list []publishConfig, log zerolog.Logger, quietOpen bool) []openedStore {
	res := make([]openedStore, len(list))
	var wg sync.WaitGroup
	for i, p := range list {
		wg.Go(func() {
			actx, cancel := context.WithTimeout(ctx, publishOpenAtStart)
			defer cancel()
			res[i].st, res[i].err = openStore(actx, p.Store, log.With().Str("dest", p.Name).Logger(), quietOpen)
		})
	}
	wg.Wait()
	return res
}

// publishOpenAtStart bounds the start's attempt to open a --publish-to
// store: longer than an S3 store's retry budget (about half a minute), so
// that an unreachable S3 server is told by its own error.
const publishOpenAtStart = 45 * time.Second

// describeLocation names a --publish-to location in messages until its
// store is open; checkPublish parsed it already. A Location holds no secret.
func describeLocation(raw string) string {
	l, err := storeurl.Parse(raw)
	if err != nil {
		return "(unparsable location)"
	}
	return l.String()
}

// spoolDrainWait bounds how long a stopping tailerd keeps publishing what
// the spool holds: systemd's default stop timeout is 90 s, and what is left
// is published after the next start.
const spoolDrainWait = 20 * time.Second
