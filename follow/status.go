package follow

import (
	"fmt"
	"time"

	"github.com/tidelog/tidelog/oplog"
)

// Status is what a follower reports on /status (and, as series, on
// /metrics): where it is, how far behind, what it did, what went wrong.
type Status struct {
	Stream string `json:"stream"`
	// Phase: starting, restoring (the initial restore), following, failed.
	Phase string `json:"phase"`
	Ready bool   `json:"ready"`
	// NotReady says why Ready is false.
	NotReady string `json:"not_ready,omitempty"`

	// Applied: the target holds the source's data as of this position
	// (T.I) and time; LagSeconds is now minus AppliedTime.
	Applied     string    `json:"applied,omitempty"`
	AppliedTime time.Time `json:"applied_time,omitzero"`
	LagSeconds  float64   `json:"lag_seconds"`
	// ResumePoint is where a restart re-reads from (before transactions
	// still open); Segment the last segment applied whole.
	ResumePoint string `json:"resume_point,omitempty"`
	Segment     string `json:"segment,omitempty"`
	OpenTxns    int    `json:"open_transactions"`

	// StoreNewestEnd is the end of the newest segment listed in the store;
	// CaughtUp says every segment listed (and allowed by --delay) is applied.
	StoreNewestEnd     string    `json:"store_newest_end,omitempty"`
	StoreNewestEndTime time.Time `json:"store_newest_end_time,omitzero"`
	CaughtUp           bool      `json:"caught_up"`

	EntriesApplied  uint64 `json:"entries_applied"`
	SegmentsApplied uint64 `json:"segments_applied"`
	ApplyErrors     uint64 `json:"apply_errors"`
	Polls           uint64 `json:"polls"`

	CheckpointCommitted  time.Time `json:"checkpoint_committed,omitzero"`
	CheckpointAgeSeconds float64   `json:"checkpoint_age_seconds"`

	Delay string `json:"delay,omitempty"`
	Until string `json:"until,omitempty"`

	// LastError is the failure being retried (cleared by the next commit).
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
}

// status is the follower's mutable record, guarded by Follower.mu.
type status struct {
	stream   string
	phase    string
	state    State // last committed
	open     int
	newest   oplog.Timestamp
	caughtUp bool

	entries, segments, errors, polls uint64

	lastErr   error
	lastErrAt time.Time
}

// Status reports the follower's state now; the lag and checkpoint age are
// computed at the call, both by Options.Clock (which also stamps commits).
func (f *Follower) Status() Status {
	f.mu.Lock()
	st := f.status
	f.mu.Unlock()
	now := f.opts.Clock.Now()
	out := Status{
		Stream: st.stream, Phase: st.phase, Segment: st.state.Segment, OpenTxns: st.open, CaughtUp: st.caughtUp,
		EntriesApplied: st.entries, SegmentsApplied: st.segments, ApplyErrors: st.errors, Polls: st.polls,
		CheckpointCommitted: st.state.Committed,
	}
	if t := st.state.Through; !t.IsZero() && st.phase != "restoring" {
		out.Applied, out.AppliedTime = t.String(), t.Time()
		out.LagSeconds = now.Sub(out.AppliedTime).Seconds()
		out.ResumePoint = st.state.Applied.String()
	}
	if !st.newest.IsZero() {
		out.StoreNewestEnd, out.StoreNewestEndTime = st.newest.String(), st.newest.Time()
	}
	if !st.state.Committed.IsZero() {
		out.CheckpointAgeSeconds = now.Sub(st.state.Committed).Seconds()
	}
	if f.opts.Delay > 0 {
		out.Delay = f.opts.Delay.String()
	}
	if !f.opts.Until.IsZero() {
		out.Until = f.opts.Until.String()
	}
	if st.lastErr != nil {
		out.LastError, out.LastErrorAt = st.lastErr.Error(), st.lastErrAt
	}
	if err := f.readiness(out); err != nil {
		out.NotReady = err.Error()
	} else {
		out.Ready = true
	}
	return out
}

// Ready is nil once the initial restore is done and the follower keeps
// up: no failure being retried, and either every segment listed is
// applied, or the lag is within ReadyLag (plus Delay), or it committed
// within ReadyLag (it is applying, catching up).
func (f *Follower) Ready() error { return f.readiness(f.Status()) }

func (f *Follower) readiness(s Status) error {
	limit := f.opts.ReadyLag + f.opts.Delay
	switch {
	case s.Phase != string(PhaseFollowing):
		return fmt.Errorf("phase %s: the initial restore is not done", s.Phase)
	case s.LastError != "":
		return fmt.Errorf("retrying after: %s", s.LastError)
	case s.CaughtUp, s.LagSeconds <= limit.Seconds(), s.CheckpointAgeSeconds <= f.opts.ReadyLag.Seconds():
		return nil
	}
	return fmt.Errorf("applied through %s, %.1fs behind (more than %s), and no commit for %.1fs", s.Applied, s.LagSeconds, limit, s.CheckpointAgeSeconds)
}

func (f *Follower) setPhase(p Phase) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status.phase = string(p)
}

// committed records a commit: its state, what it applied, and that the
// failure being retried (if any) is over.
func (f *Follower) committed(s State, entries, segments uint64, open int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status.phase, f.status.stream, f.status.state, f.status.open = string(PhaseFollowing), s.Stream, s, open
	f.status.entries += entries
	f.status.segments += segments
	f.status.lastErr = nil
}

// addEntries counts entries applied by the initial restore.
func (f *Follower) addEntries(n uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status.entries += n
}

// polled records one look at the store: the newest segment's end, and
// whether everything listed (and due) is applied.
func (f *Follower) polled(newest oplog.Timestamp, caughtUp bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status.polls++
	f.status.newest, f.status.caughtUp = newest, caughtUp
}

// failed records a failure (retried or final).
func (f *Follower) failed(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status.errors++
	f.status.lastErr, f.status.lastErrAt = err, f.opts.Clock.Now()
	if permanent(err) {
		f.status.phase = "failed"
	}
}
