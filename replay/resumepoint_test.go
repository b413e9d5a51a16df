package replay

import (
	"context"
	"testing"

	"github.com/rs/zerolog"

	"github.com/tidelog/tidelog/oplog"
)

// A resumed applier that has taken no entry yet still reports its resume
// point after a flush, a Settle or Finish (a follower's cycle that found
// nothing new; a resumed replay whose input is empty): zero would tell
// its caller to start over.
func TestResumePointKeptBeforeFirstEntry(t *testing.T) {
	ctx := context.Background()
	after := oplog.Timestamp{T: 1700000000, I: 2}
	a := NewApplier(nil, Options{After: after}, zerolog.Nop())
	a.w.styleKnown = true // no target: nothing is written
	for _, step := range []struct {
		name string
		run  func(context.Context) error
	}{{"Flush", a.Flush}, {"Settle", a.Settle}, {"Finish", a.Finish}} {
		if err := step.run(ctx); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if got := a.Stats().Applied; got != after {
			t.Fatalf("after %s with no entry taken: resume point %s, want %s", step.name, got, after)
		}
	}
}
