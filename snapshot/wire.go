package snapshot

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/oplog"
)

// manifestJSON is the manifest as stored: the one place that defines the
// JSON field names of docs/snapshot-format.md. Positions are "T.I" strings,
// the form every tidelog command accepts; BSON documents (options, index
// specs) are canonical Extended JSON, which keeps every BSON type (an int32
// stays an int32), so a restore creates exactly what the source had.
type manifestJSON struct {
	Version      int              `json:"version"`
	ID           string           `json:"id"`
	Stream       string           `json:"stream"`
	ReplicaSet   string           `json:"replicaSet"`
	Server       string           `json:"server"`
	Start        string           `json:"start"`
	End          string           `json:"end"`
	Taken        time.Time        `json:"taken"`
	Finished     time.Time        `json:"finished"`
	IncludeUsers bool             `json:"includeUsers"`
	Files        int              `json:"files"`
	Docs         int64            `json:"docs"`
	Bytes        int64            `json:"bytes"`
	StoredBytes  int64            `json:"storedBytes"`
	Collections  []collectionJSON `json:"collections"`
}

type collectionJSON struct {
	NS      string            `json:"ns"`
	Type    string            `json:"type"`
	UUID    string            `json:"uuid,omitempty"`
	Options json.RawMessage   `json:"options"`
	Indexes []json.RawMessage `json:"indexes"`
	Docs    int64             `json:"docs"`
	Bytes   int64             `json:"bytes"`
	Files   []fileJSON        `json:"files"`
}

type fileJSON struct {
	Name        string `json:"name"`
	Docs        int64  `json:"docs"`
	RawBytes    int64  `json:"rawBytes"`
	StoredBytes int64  `json:"storedBytes"`
	CRC32C      string `json:"crc32c"` // 8 lowercase hex digits
}

// toJSON converts m to its stored form.
func (m *Manifest) toJSON() (*manifestJSON, error) {
	w := &manifestJSON{
		Version: m.Version, ID: m.ID, Stream: m.Stream, ReplicaSet: m.ReplicaSet, Server: m.Server,
		Start: m.Start.String(), End: m.End.String(),
		Taken: m.Taken.UTC(), Finished: m.Finished.UTC(), IncludeUsers: m.IncludeUsers,
		Files: m.Files, Docs: m.Docs, Bytes: m.Bytes, StoredBytes: m.StoredBytes,
		Collections: make([]collectionJSON, 0, len(m.Collections)),
	}
	for _, c := range m.Collections {
		opts, err := extJSON(c.Options)
		if err != nil {
			return nil, fmt.Errorf("collection %s: options: %w", c.NS, err)
		}
		cj := collectionJSON{NS: c.NS, Type: c.Type, UUID: c.UUID, Options: opts,
			Indexes: make([]json.RawMessage, 0, len(c.Indexes)), Docs: c.Docs, Bytes: c.Bytes,
			Files: make([]fileJSON, 0, len(c.Files))}
		for i, ix := range c.Indexes {
			j, err := extJSON(ix)
			if err != nil {
				return nil, fmt.Errorf("collection %s: index %d: %w", c.NS, i, err)
			}
			cj.Indexes = append(cj.Indexes, j)
		}
		for _, f := range c.Files {
			cj.Files = append(cj.Files, fileJSON{Name: f.Name, Docs: f.Docs, RawBytes: f.RawBytes,
				StoredBytes: f.StoredBytes, CRC32C: fmt.Sprintf("%08x", f.CRC32C)})
		}
		w.Collections = append(w.Collections, cj)
	}
	return w, nil
}

// fromJSON converts the stored form back; it checks field syntax (positions,
// checksums, Extended JSON), not consistency, which validate does.
func (w *manifestJSON) fromJSON() (*Manifest, error) {
	m := &Manifest{
		Version: w.Version, ID: w.ID, Stream: w.Stream, ReplicaSet: w.ReplicaSet, Server: w.Server,
		Taken: w.Taken, Finished: w.Finished, IncludeUsers: w.IncludeUsers,
		Files: w.Files, Docs: w.Docs, Bytes: w.Bytes, StoredBytes: w.StoredBytes,
		Collections: make([]Collection, 0, len(w.Collections)),
	}
	var err error
	if m.Start, err = parsePosition(w.Start); err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	if m.End, err = parsePosition(w.End); err != nil {
		return nil, fmt.Errorf("end: %w", err)
	}
	for _, cj := range w.Collections {
		c := Collection{NS: cj.NS, Type: cj.Type, UUID: cj.UUID, Docs: cj.Docs, Bytes: cj.Bytes}
		if c.Options, err = fromExtJSON(cj.Options); err != nil {
			return nil, fmt.Errorf("collection %s: options: %w", cj.NS, err)
		}
		for i, j := range cj.Indexes {
			ix, err := fromExtJSON(j)
			if err != nil {
				return nil, fmt.Errorf("collection %s: index %d: %w", cj.NS, i, err)
			}
			c.Indexes = append(c.Indexes, ix)
		}
		for _, fj := range cj.Files {
			sum, err := strconv.ParseUint(fj.CRC32C, 16, 32)
			if err != nil || len(fj.CRC32C) != 8 {
				return nil, fmt.Errorf("collection %s: file %s: crc32c %q is not 8 hex digits", cj.NS, fj.Name, fj.CRC32C)
			}
			c.Files = append(c.Files, File{Name: fj.Name, Docs: fj.Docs, RawBytes: fj.RawBytes,
				StoredBytes: fj.StoredBytes, CRC32C: uint32(sum)})
		}
		m.Collections = append(m.Collections, c)
	}
	return m, nil
}

// parsePosition reads an exact "T.I" position. oplog.Parse also accepts
// whole seconds and dates, which a manifest never holds: those would turn
// into a different position, so they are refused here.
func parsePosition(s string) (oplog.Timestamp, error) {
	ts, err := oplog.Parse(s)
	if err != nil {
		return oplog.Timestamp{}, err
	}
	if ts.String() != s {
		return oplog.Timestamp{}, fmt.Errorf("position %q is not in T.I form", s)
	}
	return ts, nil
}

// extJSON renders a BSON document as canonical Extended JSON; nil is {}.
func extJSON(doc bson.Raw) (json.RawMessage, error) {
	if len(doc) == 0 {
		return json.RawMessage("{}"), nil
	}
	b, err := bson.MarshalExtJSON(doc, true, false)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// fromExtJSON parses canonical Extended JSON back into a BSON document.
func fromExtJSON(j json.RawMessage) (bson.Raw, error) {
	if len(j) == 0 {
		return nil, fmt.Errorf("missing")
	}
	var doc bson.Raw
	if err := bson.UnmarshalExtJSON(j, true, &doc); err != nil {
		return nil, err
	}
	return doc, nil
}
