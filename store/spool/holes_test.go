package spool

import (
	"context"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// A destination left out of the configuration while the spool freed items,
// then added back, has a hole the spool cannot fill: it is reported as
// lost at once, never resumed over in silence.
func TestReaddedDestinationHoleIsReported(t *testing.T) {
	a, b := newDirStore(t), newDirStore(t)
	dir := filepath.Join(t.TempDir(), "spool")
	both := []Dest{{Name: "store", Store: a}, {Name: "standby", Store: b}}
	s1 := openSpool(t, dir, both, fastOpts(nil))
	for i := range 3 {
		put(t, s1, "rs0", i, 300)
	}
	drained(t, s1)
	closeNow(t, s1)

	s2 := openSpool(t, dir, both[:1], fastOpts(nil))
	for i := 3; i < 6; i++ {
		put(t, s2, "rs0", i, 300)
	}
	drained(t, s2)
	closeNow(t, s2)

	var log logBuf
	s3 := openSpool(t, dir, both, fastOpts(&log))
	lost := destStatus(s3, "standby").Lost
	if len(lost) != 1 || !strings.Contains(lost[0], "4 to 6") {
		t.Errorf("standby's lost items = %q, want the 3 puts made while it was left out", lost)
	}
	if !strings.Contains(log.String(), "DATA LOST") || log.count(`"level":"error"`) == 0 {
		t.Errorf("the hole is not reported as an error:\n%s", log.String())
	}
	if l := destStatus(s3, "store").Lost; len(l) != 0 {
		t.Errorf("the primary, configured all along, reported lost %q", l)
	}
	closeNow(t, s3)
}

// listGate makes a destination's listing wait until released, so that its
// start-up check runs while another destination catches up.
type listGate struct {
	*flaky
	release chan struct{}
	waiting atomic.Bool
}

func (g *listGate) Segments(ctx context.Context, stream string) ([]string, error) {
	g.waiting.Store(true)
	select {
	case <-g.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.flaky.Segments(ctx, stream)
}

// A destination found lacking an item at start gets it again even when
// another destination catches up during the check: the spool keeps every
// item the destination claims until its check is done.
func TestItemLackingAtStartIsNotFreedDuringTheCheck(t *testing.T) {
	aStore := newDirStore(t)
	b := &flaky{Store: newDirStore(t)}
	b.down.Store(true)
	dir := filepath.Join(t.TempDir(), "spool")
	s1 := openSpool(t, dir, []Dest{{Name: "a", Store: &flaky{Store: aStore}}, {Name: "b", Store: b}}, fastOpts(nil))
	for i := range 3 {
		put(t, s1, "rs0", i, 300)
	}
	waitFor(t, "a to have everything", func() bool { return destStatus(s1, "a").Pending == 0 })
	closeNow(t, s1)
	if err := aStore.DeleteSegment(testCtx(t), "rs0", segName(1)); err != nil {
		t.Fatal(err)
	}

	gate := &listGate{flaky: &flaky{Store: aStore}, release: make(chan struct{})}
	s2 := openSpool(t, dir, []Dest{{Name: "a", Store: gate}, {Name: "b", Store: b}}, fastOpts(nil))
	waitFor(t, "a's check to list", gate.waiting.Load)
	b.down.Store(false)
	waitFor(t, "b to catch up", func() bool { return destStatus(s2, "b").Pending == 0 })
	close(gate.release)
	drained(t, s2)
	holds(t, aStore, "rs0", 3, 300)
	if l := destStatus(s2, "a").Lost; len(l) != 0 {
		t.Errorf("a reported lost %q", l)
	}
	closeNow(t, s2)
}
