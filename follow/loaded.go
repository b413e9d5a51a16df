package follow

import (
	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/segment"
)

// loaded is one verified segment in memory, being handed to the applier.
// A --delay or --until can hold its later entries back: next is the first
// entry not handed out yet.
type loaded struct {
	info    segment.Info
	entries [][]byte
	ts      []oplog.Timestamp
	next    int
}

// done tells whether every entry was handed out.
func (l *loaded) done() bool { return l.next == len(l.entries) }
