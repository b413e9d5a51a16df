package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/rs/zerolog"

	"github.com/tidelog/tidelog/internal/sdnotify"
	"github.com/tidelog/tidelog/store"
)

// Waiting for a store that cannot be reached at start. Exiting instead
// (for the service manager to start tailerd again) ends in systemd's
// start limit during an outage of more than a few minutes, and backups
// stay off until a person notices; waiting in the process does not.
const (
	storeRetryMin = time.Second
	storeRetryMax = 30 * time.Second
	// storeWaitLogEvery bounds the log while the store stays away: the
	// first failed attempt is logged at once, then one line at most this
	// often (every attempt at debug level).
	storeWaitLogEvery = time.Minute
	// startExtendEvery and startExtendBy keep systemd's start timeout
	// (TimeoutStartSec) from ending the wait: READY=1 follows only once
	// capture runs.
	startExtendEvery = 20 * time.Second
	startExtendBy    = time.Minute
	// startAfterWait is what the rest of the start (the checkpoint, the
	// source, a cluster's discovery) gets once the store answered: as long
	// as a start without the wait (deploy/systemd: TimeoutStartSec=5min).
	startAfterWait = 5 * time.Minute
)

// storeWait is what is known of a wait for the stores, for /readyz and
// /status.
type storeWait struct {
	since    time.Time
	attempts int
	err      error
}

func (w storeWait) String() string {
	return fmt.Sprintf("waiting for the store since %s (%d attempts; tailerd keeps trying, every %s at most): %v",
		w.since.UTC().Format(time.RFC3339), w.attempts, storeRetryMax, w.err)
}

// openStoresWaiting is openStores, tried again with backoff (storeRetryMin
// doubling to storeRetryMax), for as long as --store cannot be reached
// (unreachable). A --publish-to store that cannot be reached is not waited
// for: the spool opens it later (see openStores). A store that answers no
// (wrong credentials, not a tidelog store, a TLS certificate not trusted)
// fails at once. It returns ctx's error once ctx ends (SIGTERM), at once
// even in the middle of an attempt.
func openStoresWaiting(ctx context.Context, c config, obs *observed, notify *sdnotify.Notifier, log zerolog.Logger) (store.Store, func(), error) {
	var (
		w       storeWait
		logged  time.Time
		backoff time.Duration
		stop    func()
	)
	defer func() {
		if stop != nil {
			stop()
		}
		obs.setStoreWait(nil)
	}()
	for {
		st, closeStores, err := openStores(ctx, c, log, w.attempts > 0)
		if err == nil {
			if w.attempts > 0 {
				log.Info().Int("attempts", w.attempts+1).Dur("waited", time.Since(w.since).Round(time.Second)).Msg("the store can be reached again")
				stop()
				stop = nil
				_ = notify.Notify(fmt.Sprintf("EXTEND_TIMEOUT_USEC=%d", startAfterWait.Microseconds()))
				_ = notify.Status("the store can be reached again; opening the checkpoint and the source")
			}
			return st, closeStores, nil
		}
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		if !unreachable(err) {
			return nil, nil, err
		}
		if w.attempts == 0 {
			w.since = time.Now()
			stop = extendStart(notify, log)
		}
		w.attempts++
		w.err = err
		backoff = min(max(2*backoff, storeRetryMin), storeRetryMax)
		obs.setStoreWait(&w)
		_ = notify.Status("waiting for the store: it cannot be reached; retrying")
		ev := log.Debug()
		if time.Since(logged) >= storeWaitLogEvery {
			ev, logged = log.Warn(), time.Now()
		}
		ev.Err(err).Int("attempt", w.attempts).Dur("retry_in", backoff).Time("since", w.since).
			Msg("the store cannot be reached; tailerd keeps trying and does not exit: nothing is captured meanwhile, " +
				"and nothing is lost while the source's oplog still holds the entries after the checkpoint; check the store's address, the network and the store itself")
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(backoff):
		}
	}
}

// extendStart asks systemd, until the returned function is called, to
// extend the start timeout while tailerd waits for the store.
func extendStart(notify *sdnotify.Notifier, log zerolog.Logger) func() {
	if !notify.Enabled() {
		return func() {}
	}
	extend := func() {
		if err := notify.Notify(fmt.Sprintf("EXTEND_TIMEOUT_USEC=%d", startExtendBy.Microseconds())); err != nil {
			log.Warn().Err(err).Msg("could not ask systemd to extend the start timeout")
		}
	}
	extend()
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(startExtendEvery)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				extend()
			}
		}
	}()
	return func() { close(done); <-stopped }
}

// unreachable tells a store that could not be reached (refused, reset,
// timed out, or an S3 server or load balancer saying it is unavailable
// for now: it may come back) from one that answered no (wrong
// credentials, a bucket or topic that is not a tidelog store, a TLS
// certificate not trusted), which waiting does not mend. A TLS alert from
// the server (a client certificate refused) comes as a *net.OpError too,
// but it is an answer.
func unreachable(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "remote error" { // crypto/tls's alerts
		return false
	}
	if errors.Is(err, store.ErrUnavailable) { // retried by the store, and given up
		return true
	}
	var s3 minio.ErrorResponse
	if errors.As(err, &s3) {
		switch s3.StatusCode {
		case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout,
			http.StatusTooManyRequests, http.StatusRequestTimeout:
			return true
		}
		return false
	}
	var ne net.Error
	return op != nil || (errors.As(err, &ne) && ne.Timeout()) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, context.DeadlineExceeded)
}
