package topology

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Watcher keeps a deployment's topology current by polling: config.shards
// (and the config server's name) for a cluster, hello for a replica set.
//
// A failed poll changes nothing: the Watcher keeps the last topology it read
// in full and reports no change, so a config server outage never looks like
// every shard being removed. Only a complete, successful read replaces it.
//
// A Watcher is not safe for concurrent use; Run's callback gets every
// topology it reads.
type Watcher struct {
	d    *discoverer
	last Topology
}

// NewWatcher connects to uri and reads the topology once. That first read
// must succeed: with no topology yet there is nothing to keep. Close the
// Watcher when done.
func NewWatcher(ctx context.Context, uri string, opts Options) (*Watcher, error) {
	d, err := openDiscoverer(ctx, uri, opts)
	if err != nil {
		return nil, err
	}
	t, err := d.read(ctx)
	if err != nil {
		return nil, errors.Join(err, d.close(ctx))
	}
	return &Watcher{d: d, last: t}, nil
}

// Topology is the last topology read in full.
func (w *Watcher) Topology() Topology { return w.last }

// Poll reads the topology once and returns what changed since the last
// successful read. On error the last topology stays and Changes is empty.
func (w *Watcher) Poll(ctx context.Context) (Changes, error) {
	t, err := w.d.read(ctx)
	if err != nil {
		return Changes{}, err
	}
	c := Diff(w.last, t)
	w.last = t
	return c, nil
}

// Run polls every interval until ctx ends, and calls fn with the new
// topology and its changes whenever a poll finds any. A failed poll is
// logged and retried at the next tick. fn runs on Run's goroutine, so a
// slow fn delays the next poll rather than overlapping it. Run returns
// ctx's error.
func (w *Watcher) Run(ctx context.Context, interval time.Duration, fn func(Topology, Changes)) error {
	if interval <= 0 {
		return fmt.Errorf("topology: watch interval %v: must be positive", interval)
	}
	log := w.d.opts.Log
	tick := time.NewTicker(interval)
	defer tick.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		c, err := w.Poll(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			failures++
			log.Warn().Err(err).Str("seed", w.d.redacted).Int("failures", failures).
				Msg("topology: poll failed; keeping the last topology")
			continue
		}
		if failures > 0 {
			log.Info().Str("seed", w.d.redacted).Int("failures", failures).Msg("topology: poll recovered")
			failures = 0
		}
		if c.Empty() {
			continue
		}
		log.Info().Strs("added", names(c.Added)).Strs("removed", names(c.Removed)).
			Strs("changed", names(c.Changed)).Msg("topology: changed")
		fn(w.last, c)
	}
}

// Close disconnects from the seed.
func (w *Watcher) Close(ctx context.Context) error { return w.d.close(ctx) }

// Watch discovers uri's topology, calls fn with it (every replica set
// Added), then polls every interval and calls fn on each change until ctx
// ends (see Watcher.Run). It returns the first discovery's error, or ctx's.
func Watch(ctx context.Context, uri string, opts Options, interval time.Duration, fn func(Topology, Changes)) error {
	if interval <= 0 {
		return fmt.Errorf("topology: watch interval %v: must be positive", interval)
	}
	w, err := NewWatcher(ctx, uri, opts)
	if err != nil {
		return err
	}
	t := w.Topology()
	fn(t, Changes{Added: t.ReplicaSets})
	err = w.Run(ctx, interval, fn)
	// ctx has ended: disconnect on a fresh deadline of its own.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.d.opts.timeout())
	defer cancel()
	return errors.Join(err, w.Close(cctx))
}

func names(sets []ReplicaSet) []string { return Topology{ReplicaSets: sets}.Names() }
