package follow

import (
	"context"
	"fmt"
	"time"

	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/store"
)

// lateCheckEvery bounds how often a session reads the store's gap records
// for late entries.
const lateCheckEvery = 2 * time.Second

// LateEntryError stops a follower whose chain lacks an entry: tailerd found
// it appeared on the source only after it had read past it (store.Gap.Late).
// Stopped before the entry, the target is the source as of Through; past
// it, the target lacks it, and no later position of this chain is right.
type LateEntryError struct {
	Stream  string
	Gap     store.Gap
	Through oplog.Timestamp // what the target holds
}

func (e *LateEntryError) Error() string {
	late := *e.Gap.Late
	state := fmt.Sprintf("the target holds the source as of %s, before that entry", e.Through)
	if !late.After(e.Through) {
		state = fmt.Sprintf("the target has been applied through %s without it, so it is NOT a faithful copy of any position from %s on", e.Through, late)
	}
	return fmt.Sprintf("stream %s: the store records that oplog entry %s is missing from the segments before %s (%s); %s. "+
		"To go on, start the standby over from a base taken after %s: have tailerd take a snapshot (SIGUSR1) once it runs again, "+
		"then move the --checkpoint directory aside and run replayer follow again with --drop",
		e.Stream, late, e.Gap.After, e.Gap.Reason, state, e.Gap.After)
}

// checkLate stops the session at a late entry of the chain it follows. A
// gap whose After the follower has reached was not in its chain: a follower
// never crosses a gap, so it started after it. A late entry after --until
// is none of its business.
func (s *session) checkLate(ctx context.Context) error {
	now := time.Now()
	if !s.lateChecked.IsZero() && now.Sub(s.lateChecked) < lateCheckEvery {
		return nil
	}
	gaps, err := s.f.opts.Store.Gaps(ctx, s.state.Stream)
	if err != nil {
		return fmt.Errorf("list gaps of %s in %s: %w", s.state.Stream, s.f.opts.Store, err)
	}
	s.lateChecked = now
	until := s.f.opts.Until
	for _, g := range gaps {
		if g.Late != nil && !until.IsZero() && g.Late.After(until) {
			continue // the follower stops before the missing entry: the target is right at --until
		}
		if g.Late != nil && s.through.Before(g.After) {
			return &LateEntryError{Stream: s.state.Stream, Gap: g, Through: s.through}
		}
	}
	return nil
}
