package spool

import "time"

// Status is a snapshot of the spool's state, for logs and metrics.
type Status struct {
	Dir      string
	Bytes    int64 // bytes of the items waiting in the spool (and of puts in progress)
	MaxBytes int64
	Items    int       // entries waiting for at least one destination
	Paused   time.Time // non-zero from the first put that waited for room until one gets room again
	Waiting  int       // puts waiting for room now
	Dests    []DestStatus
}

// DestStatus is one destination's position and backlog.
type DestStatus struct {
	Name  string
	Store string
	// Published is the sequence number of the last item published to the
	// destination (every item up to it is there); LastSegment maps each
	// stream to the last segment published to it.
	Published   uint64
	LastSegment map[string]string
	// Pending, PendingBytes: items in the spool the destination lacks.
	Pending       int
	PendingBytes  int64
	OldestPending time.Time     // when the oldest of them was put (zero: none)
	OldestAge     time.Duration // how long ago
	Open          bool          // its store is open (false while its publisher tries to open it: see Dest.Open)
	Verified      bool          // the start-up check of what it holds is done
	FailingSince  time.Time     // zero while it works
	LastError     string
	Lost          []string // items it lost that the spool could not give back (see verify)
}

// Status returns the spool's state now.
func (s *Spool) Status() Status {
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{Dir: s.dir, Bytes: s.bytes, MaxBytes: s.opts.MaxBytes, Items: len(s.entries), Paused: s.paused, Waiting: s.waiting}
	for _, d := range s.dests {
		st.Dests = append(st.Dests, s.destStatus(d, now))
	}
	return st
}

// destStatus computes d's status. Call with mu held.
func (s *Spool) destStatus(d *dest, now time.Time) DestStatus {
	ds := DestStatus{
		Name: d.name, Store: d.String(), Published: d.published, LastSegment: map[string]string{},
		Open: d.opened() != nil, Verified: d.verified, FailingSince: d.failingSince, Lost: append([]string(nil), d.lost...),
	}
	for stream, l := range d.last {
		if l.Segment != "" {
			ds.LastSegment[stream] = l.Segment
		}
	}
	if d.lastErr != nil {
		ds.LastError = d.lastErr.Error()
	}
	for _, e := range s.entries {
		if e.Seq > d.published {
			if ds.Pending == 0 {
				ds.OldestPending = e.Added
				ds.OldestAge = now.Sub(e.Added)
			}
			ds.Pending++
			ds.PendingBytes += e.Size
		}
	}
	return ds
}
