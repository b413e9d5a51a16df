package follow

import (
	"math"

	"github.com/tidelog/tidelog/oplog"
)

// horizon is the newest position that may be applied now: every entry of
// a second at least Delay old (an entry of second T once now − Delay ≥ T),
// and nothing after Until.
func (f *Follower) horizon() oplog.Timestamp {
	h := oplog.Max
	if f.opts.Delay > 0 {
		sec := f.opts.Clock.Now().Add(-f.opts.Delay).Unix()
		switch {
		case sec < 0:
			h = oplog.Timestamp{}
		case sec < math.MaxUint32:
			h = oplog.Timestamp{T: uint32(sec), I: math.MaxUint32}
		}
	}
	if u := f.opts.Until; !u.IsZero() && u.Before(h) {
		h = u
	}
	return h
}

// untilBinds tells whether h is Until itself, not held back by Delay: the
// follower is then done once the store reaches Until.
func (f *Follower) untilBinds(h oplog.Timestamp) bool {
	return !f.opts.Until.IsZero() && h == f.opts.Until
}
