package follow

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/segment"
)

// stateVersion is the version of the State encoding; a checkpoint holding
// a newer one is refused, not misread.
const stateVersion = 1

// Phase is where a follower stands in its life.
type Phase string

const (
	// PhaseRestoring: the initial restore began writing and has not been
	// committed as done. The next start drops Restore.Namespaces and
	// restores again.
	PhaseRestoring Phase = "restoring"
	// PhaseFollowing: the target holds the stream through Applied.
	PhaseFollowing Phase = "following"
)

// State is what the checkpoint holds: what is followed onto what, and how
// far the target is.
type State struct {
	Store  string // the store's String()
	Stream string
	Target string // Options.TargetName
	Phase  Phase

	// Restore describes the initial restore while Phase is PhaseRestoring.
	Restore *RestoreRecord

	// Segment is the last segment all of whose entries were applied, and
	// Link its end and checksum: the next segment must carry Link as its
	// previous link. Encrypted tells that Segment is encrypted: the
	// segments after it must be too (a plaintext one's link to it would be
	// forgeable), also once retention has pruned Segment.
	Segment   string
	Link      segment.Link
	Encrypted bool
	// Applied is the resume point: every entry at or before it is applied.
	// It stops before the first entry of every transaction still open, so
	// a restart re-reads from there and sees those transactions whole.
	Applied oplog.Timestamp
	// Written is how far the target holds the stream but for transactions
	// open there (replay.Stats.Written): a restart reads again from Applied
	// but writes nothing at or before Written again, since a namespace
	// command run twice can destroy data (a rename onto a name re-created
	// since). Zero in a checkpoint written before tidelog kept it: the
	// restart then writes everything after Applied again, as it did.
	Written oplog.Timestamp
	// Through is the newest entry taken: the target holds the source's data
	// as of Through (a transaction still open there was not visible on the
	// source either). It is at or after Applied.
	Through oplog.Timestamp
	// Committed is when this state was committed.
	Committed time.Time
}

// RestoreRecord is an initial restore in progress: written before its first
// write, so that a restart can undo exactly what it may have written.
type RestoreRecord struct {
	To       oplog.Timestamp
	Snapshot string // "" from the start of capture
	// Namespaces are every target namespace the restore may write; the
	// target held none of them before (or --drop replaced them).
	Namespaces []string
	Started    time.Time
}

// stateJSON is State on disk: positions as "T.I" strings, so that the
// checkpoint reads like the rest of tidelog's output.
type stateJSON struct {
	Version   int          `json:"version"`
	Store     string       `json:"store"`
	Stream    string       `json:"stream"`
	Target    string       `json:"target"`
	Phase     Phase        `json:"phase"`
	Restore   *restoreJSON `json:"restore,omitempty"`
	Segment   string       `json:"segment,omitempty"`
	LinkEnd   string       `json:"link_opend,omitempty"`
	LinkSum   uint32       `json:"link_checksum,omitempty"`
	Encrypted bool         `json:"encrypted,omitempty"`
	Applied   string       `json:"applied,omitempty"`
	Written   string       `json:"written,omitempty"`
	Through   string       `json:"through,omitempty"`
	Committed time.Time    `json:"committed"`
}

type restoreJSON struct {
	To         string    `json:"to"`
	Snapshot   string    `json:"snapshot,omitempty"`
	Namespaces []string  `json:"namespaces"`
	Started    time.Time `json:"started"`
}

func encodeState(s State) ([]byte, error) {
	j := stateJSON{
		Version: stateVersion, Store: s.Store, Stream: s.Stream, Target: s.Target, Phase: s.Phase,
		Segment: s.Segment, LinkEnd: tsString(s.Link.OpEnd), LinkSum: s.Link.Checksum, Encrypted: s.Encrypted,
		Applied: tsString(s.Applied), Written: tsString(s.Written), Through: tsString(s.Through), Committed: s.Committed.UTC(),
	}
	if r := s.Restore; r != nil {
		j.Restore = &restoreJSON{To: r.To.String(), Snapshot: r.Snapshot, Namespaces: r.Namespaces, Started: r.Started.UTC()}
		if j.Restore.Namespaces == nil {
			j.Restore.Namespaces = []string{}
		}
	}
	return json.Marshal(j)
}

func decodeState(b []byte) (State, error) {
	var j stateJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return State{}, fmt.Errorf("state does not decode: %w", err)
	}
	if j.Version < 1 || j.Version > stateVersion {
		return State{}, fmt.Errorf("state version %d, but this tidelog reads only version %d (upgrade tidelog)", j.Version, stateVersion)
	}
	if j.Phase != PhaseRestoring && j.Phase != PhaseFollowing {
		return State{}, fmt.Errorf("state has unknown phase %q", j.Phase)
	}
	s := State{Store: j.Store, Stream: j.Stream, Target: j.Target, Phase: j.Phase, Segment: j.Segment,
		Link: segment.Link{Checksum: j.LinkSum}, Encrypted: j.Encrypted, Committed: j.Committed}
	var err error
	for _, f := range []struct {
		in  string
		out *oplog.Timestamp
	}{{j.LinkEnd, &s.Link.OpEnd}, {j.Applied, &s.Applied}, {j.Written, &s.Written}, {j.Through, &s.Through}} {
		if *f.out, err = parseTS(f.in); err != nil {
			return State{}, err
		}
	}
	if r := j.Restore; r != nil {
		to, err := parseTS(r.To)
		if err != nil {
			return State{}, err
		}
		s.Restore = &RestoreRecord{To: to, Snapshot: r.Snapshot, Namespaces: r.Namespaces, Started: r.Started}
	}
	if s.Phase == PhaseRestoring && s.Restore == nil {
		return State{}, fmt.Errorf("state is %q without the restore's record", s.Phase)
	}
	return s, nil
}

// tsString is "" for the zero position, else T.I.
func tsString(ts oplog.Timestamp) string {
	if ts.IsZero() {
		return ""
	}
	return ts.String()
}

func parseTS(s string) (oplog.Timestamp, error) {
	if s == "" {
		return oplog.Timestamp{}, nil
	}
	ts, err := oplog.Parse(s)
	if err != nil {
		return oplog.Timestamp{}, fmt.Errorf("state: %w", err)
	}
	return ts, nil
}
