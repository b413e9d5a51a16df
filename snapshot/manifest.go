package snapshot

import (
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/crypt"
	"github.com/tidelog/tidelog/oplog"
)

// Collection types, as listCollections reports them.
const (
	TypeCollection = "collection"
	TypeView       = "view"
	TypeTimeseries = "timeseries"
)

// Manifest describes one complete snapshot. It is stored as manifest.json,
// last, with a checksum over its own bytes (docs/snapshot-format.md).
type Manifest struct {
	Version int    // format version: FormatVersion
	ID      string // snapshot ID, also the snapshot's directory name
	Stream  string // the store stream it belongs to
	// ReplicaSet is the source's replica set name (hello.setName) and Server
	// the server it ran, e.g. "MongoDB 7.0.14" or "FerretDB v1.24.0": for
	// people, and for a restore that wants to know what it is reading.
	ReplicaSet string
	Server     string
	// Start is where replay must begin: the newest oplog entry before the
	// copy began, or the start of the oldest transaction then open. End is
	// the newest oplog entry after the copy finished: the snapshot is
	// consistent at any position >= End once the entries with ts >= Start
	// are replayed over it up to that position.
	Start, End oplog.Timestamp
	// Taken is when Take began, Finished when the copy had ended and End
	// was read.
	Taken, Finished time.Time
	// IncludeUsers says whether admin.system.users and admin.system.roles
	// were copied; without it their absence means nothing.
	IncludeUsers bool
	Collections  []Collection
	// Totals over every data file.
	Files       int
	Docs        int64
	Bytes       int64 // raw BSON bytes
	StoredBytes int64 // bytes as stored (compressed)
	// Checksum is the CRC-32C of the manifest as stored; set by Take and
	// ReadManifest, not part of what it covers.
	Checksum uint32
	// Encrypted says the manifest (and so every data file) is encrypted
	// with the master key KeyID names; set by Take and ReadManifest from
	// the stored bytes, not written in the manifest.
	Encrypted bool
	KeyID     crypt.KeyID

	// read is how the manifest was read (or, after Take, written): Docs
	// and Verify read the data files the same way.
	read ReadOptions
}

// Collection is one namespace of the snapshot: its definition, its indexes
// and, unless it is a view or a timeseries collection, its data files.
type Collection struct {
	NS   string // "db.collection"
	Type string // TypeCollection, TypeView or TypeTimeseries
	// Options are the create options listCollections reported (capped,
	// size, validator, collation, viewOn and pipeline, timeseries, ...),
	// an empty document when there are none.
	Options bson.Raw
	// UUID is the collection's UUID as 32 hex digits, when the server gave one.
	UUID string
	// Indexes are the index specs listIndexes reported, without "v" and
	// "ns": a restore builds them on its own server's index version.
	Indexes []bson.Raw
	// Files hold the documents; a view or timeseries collection has none
	// (a timeseries collection's data is its system.buckets.* collection).
	// A collection split by _id range has one file per range, in _id order.
	Files []File
	Docs  int64 // documents over all Files
	Bytes int64 // raw BSON bytes over all Files
}

// DB returns the database part of NS.
func (c Collection) DB() string { db, _, _ := strings.Cut(c.NS, "."); return db }

// Name returns the collection part of NS (which may itself contain dots).
func (c Collection) Name() string { _, coll, _ := strings.Cut(c.NS, "."); return coll }

// File is one data file: an lz4 frame of concatenated raw BSON documents.
type File struct {
	Name        string // file name within the snapshot
	Docs        int64  // documents in it
	RawBytes    int64  // bytes of the documents concatenated (uncompressed)
	StoredBytes int64  // bytes of the file as stored
	CRC32C      uint32 // CRC-32C of the stored bytes
}

// sumTotals recomputes the per-collection and snapshot totals from the files.
func (m *Manifest) sumTotals() {
	m.Files, m.Docs, m.Bytes, m.StoredBytes = 0, 0, 0, 0
	for i := range m.Collections {
		c := &m.Collections[i]
		c.Docs, c.Bytes = 0, 0
		for _, f := range c.Files {
			c.Docs += f.Docs
			c.Bytes += f.RawBytes
			m.StoredBytes += f.StoredBytes
		}
		m.Files += len(c.Files)
		m.Docs += c.Docs
		m.Bytes += c.Bytes
	}
}

// Collection returns the collection with namespace ns, if the snapshot has it.
func (m *Manifest) Collection(ns string) (Collection, bool) {
	for _, c := range m.Collections {
		if c.NS == ns {
			return c, true
		}
	}
	return Collection{}, false
}
