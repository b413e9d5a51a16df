package topology

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/tidelog/tidelog/internal/testlog"
	"github.com/tidelog/tidelog/internal/testserver"
)

// report is one call of Watch's callback.
type report struct {
	top Topology
	c   Changes
}

// nextReport waits for the watcher's next report, failing the test after within.
func nextReport(t *testing.T, ch <-chan report, within time.Duration, what string) report {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(within):
		t.Fatalf("no report within %v: %s", within, what)
		return report{}
	}
}

// noReport fails if the watcher has reported anything so far.
func noReport(t *testing.T, ch <-chan report, why string) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("%s: unexpected report %+v", why, r.c)
	default:
	}
}

// A shard added to config.shards, one starting to drain and one removed are
// each reported within a bounded time, and nothing else is.
func TestWatchReportsShardChanges(t *testing.T) {
	t.Parallel()
	c := startCluster(t, "shardA", "shardB", "shardC")
	c.removeShard(t, "shardC") // its server runs; it joins later
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := make(chan report, 16)
	done := make(chan error, 1)
	go func() {
		done <- Watch(ctx, c.config.URI, Options{Timeout: 5 * time.Second}, 50*time.Millisecond,
			func(top Topology, ch2 Changes) { ch <- report{top, ch2} })
	}()
	const within = 10 * time.Second

	first := nextReport(t, ch, within, "the initial topology")
	if got := names(first.c.Added); !slices.Equal(got, []string{testserver.ReplicaSet, "shardA", "shardB"}) {
		t.Fatalf("initial Added %v", got)
	}

	c.addShard(t, "shardC", false)
	r := nextReport(t, ch, within, "shardC added")
	if got := names(r.c.Added); !slices.Equal(got, []string{"shardC"}) || len(r.c.Removed)+len(r.c.Changed) != 0 {
		t.Fatalf("after adding shardC: %+v", r.c)
	}
	if got := reach(t, r.c.Added[0]); got != "shardC" {
		t.Fatalf("shardC's URI reaches %q", got)
	}

	c.addShard(t, "shardA", true)
	r = nextReport(t, ch, within, "shardA draining")
	if got := names(r.c.Changed); !slices.Equal(got, []string{"shardA"}) || !r.c.Changed[0].Draining || len(r.c.Added)+len(r.c.Removed) != 0 {
		t.Fatalf("after draining shardA: %+v", r.c)
	}

	c.removeShard(t, "shardB")
	r = nextReport(t, ch, within, "shardB removed")
	if got := names(r.c.Removed); !slices.Equal(got, []string{"shardB"}) || len(r.c.Added)+len(r.c.Changed) != 0 {
		t.Fatalf("after removing shardB: %+v", r.c)
	}
	if got := r.top.Names(); !slices.Equal(got, []string{testserver.ReplicaSet, "shardA", "shardC"}) {
		t.Fatalf("topology after removal: %v", got)
	}

	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Watch returned %v, want context.Canceled", err)
		}
	case <-time.After(within):
		t.Fatal("Watch did not return after cancel")
	}
	noReport(t, ch, "after the last change")
}

// With the config server down, polls fail and are logged, the last topology
// stays and no shard is reported removed; once it is back the Watcher goes
// on, and a real removal is reported.
func TestWatchKeepsTopologyWhenReadsFail(t *testing.T) {
	t.Parallel()
	c := startCluster(t, "shardA", "shardB")
	var logs testlog.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := NewWatcher(ctx, c.config.URI, Options{Timeout: time.Second, Log: logs.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())
	before := w.Topology()

	if err := c.config.Stop(); err != nil {
		t.Fatal(err)
	}
	changes, err := w.Poll(ctx)
	if err == nil {
		t.Fatal("Poll succeeded with the config server stopped")
	}
	if !changes.Empty() || !slices.Equal(w.Topology().Names(), before.Names()) {
		t.Fatalf("a failed poll changed the topology: %+v, now %v", changes, w.Topology().Names())
	}

	ch := make(chan report, 16)
	done := make(chan error, 1)
	go func() {
		done <- w.Run(ctx, 50*time.Millisecond, func(top Topology, c Changes) { ch <- report{top, c} })
	}()
	const within = 20 * time.Second
	waitFor(t, within, "two failed polls logged", func() bool { return logs.Count("poll failed") >= 2 })
	noReport(t, ch, "while the config server is down")

	if err := c.config.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, within, "a poll to recover", func() bool { return logs.Count("poll recovered") >= 1 })
	noReport(t, ch, "after the config server came back unchanged")

	c.removeShard(t, "shardB")
	r := nextReport(t, ch, within, "shardB removed")
	if got := names(r.c.Removed); !slices.Equal(got, []string{"shardB"}) || len(r.c.Added)+len(r.c.Changed) != 0 {
		t.Fatalf("after removing shardB: %+v\nlogs:\n%s", r.c, logs.String())
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v", err)
	}
}

func TestWatchRejectsBadInterval(t *testing.T) {
	err := Watch(context.Background(), "mongodb://127.0.0.1:1/", Options{}, 0, func(Topology, Changes) {})
	if err == nil {
		t.Fatal("interval 0 accepted")
	}
}
