package follow

import (
	"reflect"
	"testing"
	"time"

	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/segment"
)

// FuzzState feeds arbitrary bytes to the decoder of the follower's
// committed state, as its checkpoint holds it.
//
// Invariants: no panic; a state that decodes has a known phase (a
// restoring one with its restore record) and, encoded again, decodes to
// the same state.
func FuzzState(f *testing.F) {
	for _, s := range []State{
		{Store: "dir:/var/lib/tidelog", Stream: "rs0", Target: "mongodb://standby:27017", Phase: PhaseFollowing,
			Segment: "0000001700000000.0000000001-0000001700000009.0000000003",
			Link:    segment.Link{OpEnd: oplog.Timestamp{T: 1700000009, I: 3}, Checksum: 0xdeadbeef}, Encrypted: true,
			Applied: oplog.Timestamp{T: 1700000009, I: 1}, Through: oplog.Timestamp{T: 1700000009, I: 3},
			Committed: time.Date(2026, 11, 21, 10, 0, 0, 5, time.UTC)},
		{Store: "s3:b/p", Stream: "rs0", Target: "t", Phase: PhaseRestoring,
			Restore: &RestoreRecord{To: oplog.Timestamp{T: 1700000000, I: 4294967295}, Snapshot: "20261121T184700Z-1700000000.0000000005",
				Namespaces: []string{"shop.orders", "shop.recent"}, Started: time.Date(2026, 11, 21, 9, 0, 0, 0, time.FixedZone("x", 3600))}},
	} {
		data, err := encodeState(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"version":1,"phase":"following","applied":"2026-11-21T10:00:00Z"}`))
	f.Add([]byte(`{"version":2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := decodeState(data)
		if err != nil {
			return
		}
		if s.Phase != PhaseFollowing && s.Phase != PhaseRestoring || s.Phase == PhaseRestoring && s.Restore == nil {
			t.Fatalf("state accepted with phase %q and restore record %v", s.Phase, s.Restore)
		}
		again, err := encodeState(s)
		if err != nil {
			t.Fatalf("state decoded, but not encoded again: %v", err)
		}
		back, err := decodeState(again)
		if err != nil {
			t.Fatalf("state encoded again does not decode: %v\n%s", err, again)
		}
		if !reflect.DeepEqual(normalState(back), normalState(s)) {
			t.Fatalf("round trip differs:\n got %+v\nwant %+v", back, s)
		}
	})
}

// normalState puts times in UTC (JSON keeps the instant, not the zone's
// name) and treats an empty namespace list like a missing one.
func normalState(s State) State {
	s.Committed = s.Committed.UTC()
	if r := s.Restore; r != nil {
		c := *r
		c.Started = c.Started.UTC()
		if len(c.Namespaces) == 0 {
			c.Namespaces = nil
		}
		s.Restore = &c
	}
	return s
}
