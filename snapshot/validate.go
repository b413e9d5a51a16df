package snapshot

import (
	"errors"
	"fmt"
	"strings"
)

// validate checks that a manifest is internally consistent and belongs to
// snapshot id of stream. A manifest whose checksum holds can still fail
// here (a writer bug, or a file copied into the wrong snapshot); restoring
// from it would restore something other than what it claims.
func (m *Manifest) validate(stream, id string) error {
	switch {
	case m.Version != FormatVersion:
		return fmt.Errorf("version %d, want %d", m.Version, FormatVersion)
	case m.ID != id:
		return fmt.Errorf("manifest of snapshot %q stored as snapshot %q", m.ID, id)
	case m.Stream != stream:
		return fmt.Errorf("manifest of stream %q stored in stream %q", m.Stream, stream)
	case m.Start.IsZero():
		return errors.New("start position is zero")
	case m.End.Before(m.Start):
		return fmt.Errorf("end %s is before start %s", m.End, m.Start)
	case m.Taken.IsZero() || m.Finished.IsZero():
		return errors.New("taken or finished time missing")
	}
	if err := checkName("snapshot id", m.ID); err != nil {
		return err
	}
	namespaces := map[string]bool{}
	files := map[string]bool{}
	var nfiles int
	var docs, raw, stored int64
	for _, c := range m.Collections {
		if err := c.validate(); err != nil {
			return err
		}
		if namespaces[c.NS] {
			return fmt.Errorf("collection %s listed twice", c.NS)
		}
		namespaces[c.NS] = true
		for _, f := range c.Files {
			if files[f.Name] {
				return fmt.Errorf("file %s listed twice", f.Name)
			}
			files[f.Name] = true
			stored += f.StoredBytes
		}
		nfiles += len(c.Files)
		docs += c.Docs
		raw += c.Bytes
	}
	if nfiles != m.Files || docs != m.Docs || raw != m.Bytes || stored != m.StoredBytes {
		return fmt.Errorf("totals say %d files, %d docs, %d bytes, %d stored bytes; the files add up to %d, %d, %d, %d",
			m.Files, m.Docs, m.Bytes, m.StoredBytes, nfiles, docs, raw, stored)
	}
	return nil
}

// validate checks one collection entry.
func (c Collection) validate() error {
	if c.DB() == "" || c.Name() == "" {
		return fmt.Errorf("namespace %q is not db.collection", c.NS)
	}
	switch c.Type {
	case TypeCollection:
		// Even an empty collection has a (empty) data file, so that a
		// missing file is always damage, never an empty collection.
		if len(c.Files) == 0 {
			return fmt.Errorf("collection %s has no data file", c.NS)
		}
	case TypeView, TypeTimeseries:
		if len(c.Files) != 0 {
			return fmt.Errorf("%s %s has data files; its data lives elsewhere", c.Type, c.NS)
		}
	default:
		return fmt.Errorf("collection %s has unknown type %q", c.NS, c.Type)
	}
	var docs, raw int64
	for _, f := range c.Files {
		if err := checkName("file name", f.Name); err != nil {
			return fmt.Errorf("collection %s: %w", c.NS, err)
		}
		if !strings.HasSuffix(f.Name, dataSuffix) {
			return fmt.Errorf("collection %s: file name %q does not end with %s", c.NS, f.Name, dataSuffix)
		}
		if f.Docs < 0 || f.RawBytes < minDocSize*f.Docs || f.RawBytes > maxDocSize*f.Docs || f.StoredBytes < frameStart {
			return fmt.Errorf("collection %s: file %s: %d docs, %d raw bytes and %d stored bytes do not fit together",
				c.NS, f.Name, f.Docs, f.RawBytes, f.StoredBytes)
		}
		docs += f.Docs
		raw += f.RawBytes
	}
	if docs != c.Docs || raw != c.Bytes {
		return fmt.Errorf("collection %s says %d docs and %d bytes; its files add up to %d and %d", c.NS, c.Docs, c.Bytes, docs, raw)
	}
	return nil
}
