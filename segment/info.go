// Package segment reads and writes tidelog segments: immutable, checksummed,
// lz4-compressed runs of raw oplog entries of one stream covering
// [OpStart, OpEnd]. The format is specified in docs/segment-format.md.
package segment

import (
	"github.com/tidelog/tidelog/crypt"
	"github.com/tidelog/tidelog/oplog"
)

// Link is what a segment knows of the one before it in its stream: that
// segment's last position and checksum. A zero Link starts a chain (first
// segment of a stream, or first after a recorded gap).
type Link struct {
	OpEnd    oplog.Timestamp
	Checksum uint32
}

// IsZero reports whether l starts a chain.
func (l Link) IsZero() bool { return l == Link{} }

// Info describes one finished segment; it is what the catalog keeps.
type Info struct {
	Name     string          // deterministic file/object name, see Name
	Stream   string          // replica set (stream) name
	OpStart  oplog.Timestamp // ts of the first entry
	OpEnd    oplog.Timestamp // ts of the last entry
	Count    uint64          // number of entries
	RawSize  uint64          // bytes of concatenated BSON before compression
	Size     uint64          // bytes of the whole segment file
	Checksum uint32          // CRC-32C of the whole file before the trailer's own checksum field; identifies the segment in the chain
	Prev     Link            // the previous segment in the stream
	// Encrypted says the body is sealed with the master key KeyID names.
	Encrypted bool
	KeyID     crypt.KeyID
}

// Link returns the Link that the next segment of the stream must carry.
func (i Info) Link() Link { return Link{OpEnd: i.OpEnd, Checksum: i.Checksum} }
