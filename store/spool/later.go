package spool

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tidelog/tidelog/store"
)

// Destinations opened later. The spool exists to ride out a destination's
// outage; one that is down when the program starts is the same outage seen
// earlier, so it is opened by its publisher (Dest.Open) instead of holding
// up the start, and everything waits for it in the spool meanwhile.

// errNotOpen is a destination's last error before anything was tried.
var errNotOpen = errors.New("store not open yet")

// check checks one Dest of Open's list; primary is the first.
func (d Dest) check(primary bool) error {
	switch {
	case d.Store == nil && d.Open == nil:
		return fmt.Errorf("destination %s has no store", d.Name)
	case d.Store != nil && d.Open != nil:
		return fmt.Errorf("destination %s has both a store and an Open function", d.Name)
	case primary && d.Store == nil:
		return fmt.Errorf("destination %s is the primary: it must be open, since reads and snapshots go to it", d.Name)
	}
	return nil
}

// newDest is d's state at Open. One not open yet counts as failing from
// the start, with why it could not be opened.
func newDest(d Dest, now time.Time) *dest {
	nd := &dest{name: d.Name, open: d.Open, loc: d.Location, last: map[string]lastItem{}}
	if d.Store != nil {
		nd.st.Store(&d.Store)
		return nd
	}
	if nd.loc == "" {
		nd.loc = "(not open)"
	}
	nd.failingSince, nd.failures, nd.lastErr = now, 1, d.OpenErr
	if nd.lastErr == nil {
		nd.lastErr = errNotOpen
	}
	return nd
}

// opened is d's store, nil until it is open.
func (d *dest) opened() store.Store {
	if p := d.st.Load(); p != nil {
		return *p
	}
	return nil
}

// String names d's store: its own name once open, else Dest.Location.
func (d *dest) String() string {
	if st := d.opened(); st != nil {
		return st.String()
	}
	return d.loc
}

// logUnopened says, once at Open, which destinations are not open and what
// that means; the publishers' failures are then logged every LogEvery.
func (s *Spool) logUnopened() {
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.dests {
		if d.opened() != nil {
			continue
		}
		d.lastLog = now
		st := s.destStatus(d, now)
		s.log.Error().Err(d.lastErr).Str("dest", d.name).Str("store", d.loc).
			Int("pending", st.Pending).Int64("pending_bytes", st.PendingBytes).
			Msg("destination not open: its store could not be reached; its publisher keeps trying to open it. " +
				"Everything put waits in the spool for it (nothing is dropped) while the other destinations stay current; " +
				"when the spool is full, puts wait (capture pauses) until it opens and catches up")
	}
}

// openDest opens d's store (one attempt of its publisher).
func (s *Spool) openDest(ctx context.Context, d *dest) error {
	st, err := d.open(ctx)
	if err != nil {
		return fmt.Errorf("open destination %s (%s): %w; everything put waits in the spool for it", d.name, d.loc, err)
	}
	d.st.Store(&st)
	s.log.Info().Str("dest", d.name).Str("store", st.String()).Msg("destination open; checking what it holds, then publishing what waits in the spool")
	s.checkStoreName(d)
	return nil
}

// checkStoreName warns when d's checkpoint was written for another store.
// Harmless: the publisher verifies what d holds before publishing.
func (s *Spool) checkStoreName(d *dest) {
	if d.ckptStore == "" || d.ckptStore == d.String() {
		return
	}
	s.log.Warn().Str("dest", d.name).Str("was", d.ckptStore).Str("now", d.String()).
		Msg("destination now names another store; what it was said to hold is verified before publishing")
}
