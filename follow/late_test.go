package follow

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/segment"
	"github.com/tidelog/tidelog/store"
)

// A late entry recorded in the store (tailerd found an entry the source
// showed only after it had read past it) stops a follower of that chain:
// one already past the entry is told its target lacks it, and nothing more
// is applied; a restart stops again.
func TestFollowStopsAtLateEntry(t *testing.T) {
	fx := newFixture(t)
	m := model{}
	s1 := fx.put(inserts(t, m, 1, 5)...)
	r := fx.start(nil)
	fx.waitThrough(r, s1.OpEnd)

	late := oplog.Timestamp{T: s1.OpEnd.T, I: s1.OpEnd.I - 2}
	gap := store.Gap{After: s1.OpEnd, Next: s1.OpEnd.Next(), Detected: time.Now(), Reason: "late entry", Late: &late}
	if err := fx.st.PutGap(context.Background(), stream, gap); err != nil {
		t.Fatal(err)
	}
	fx.prev = segment.Link{} // tailerd --accept-gap after a late entry: a new chain
	fx.put(ins(t, ts(T0, 100), 100, "after the late entry"))

	_, err := r.wait(t)
	var le *LateEntryError
	if !errors.As(err, &le) || le.Through != s1.OpEnd {
		t.Fatalf("a late entry in the store: %v; want a *LateEntryError at %s", err, s1.OpEnd)
	}
	for _, want := range []string{late.String(), "NOT a faithful copy", "--drop"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q:\n%v", want, err)
		}
	}
	fx.check(m)

	r = fx.start(nil)
	if _, err := r.wait(t); !errors.As(err, &le) {
		t.Fatalf("restart with a late entry recorded: %v", err)
	}
	fx.check(m)
}
