package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/dump"
	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/replay"
)

// Dump is a mongodump (directory or archive) opened as a base copy: its
// collections for Load, and the oplog mongodump --oplog captured while it
// dumped, for the replay that makes the copy consistent.
type Dump struct {
	Collections []Collection
	// OplogEntries and OplogEnd describe the dump's own oplog; OplogEnd is
	// the position the dump is consistent at once its oplog is replayed
	// (zero when the dump has no oplog: it is consistent only if nothing
	// wrote during the dump).
	OplogEntries int64
	OplogEnd     oplog.Timestamp

	openOplog func() (*dump.BSONReader, io.Closer, error) // nil: no oplog
	cleanup   func() error
}

// HasOplog tells whether the dump holds an oplog.
func (d *Dump) HasOplog() bool { return d.openOplog != nil }

// Close removes what opening the dump left on disk (an archive's spool).
func (d *Dump) Close() error {
	if d.cleanup == nil {
		return nil
	}
	return d.cleanup()
}

// Oplog is the dump's oplog as a replay source: the entries with ts <= to,
// read from the file each time (Replay reads its source twice). A dump
// without an oplog yields nothing.
func (d *Dump) Oplog(ctx context.Context, to oplog.Timestamp) replay.Source {
	return func(fn func(bson.Raw) error) error {
		if d.openOplog == nil {
			return nil
		}
		r, c, err := d.openOplog()
		if err != nil {
			return fmt.Errorf("the dump's oplog: %w", err)
		}
		defer c.Close()
		return eachEntry(ctx, r, func(entry bson.Raw, ts oplog.Timestamp) error {
			if ts.After(to) {
				return nil
			}
			return fn(entry)
		})
	}
}

// eachEntry reads oplog entries to the end, with their ts.
func eachEntry(ctx context.Context, r *dump.BSONReader, fn func(bson.Raw, oplog.Timestamp) error) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		entry, err := r.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		ts, err := oplog.EntryTS(entry)
		if err != nil {
			return fmt.Errorf("the dump's oplog: entry ending at byte %d: %w", r.Offset(), err)
		}
		if err := fn(entry, ts); err != nil {
			return err
		}
	}
}

// scanOplog reads the whole oplog once, for its size and last position,
// so that a damaged oplog fails before anything is written.
func (d *Dump) scanOplog(ctx context.Context) error {
	r, c, err := d.openOplog()
	if err != nil {
		return fmt.Errorf("the dump's oplog: %w", err)
	}
	defer c.Close()
	return eachEntry(ctx, r, func(_ bson.Raw, ts oplog.Timestamp) error {
		d.OplogEntries++
		if ts.After(d.OplogEnd) {
			d.OplogEnd = ts
		}
		return nil
	})
}

// FromDir opens a mongodump directory (dump.OpenDir: plain or .gz files).
// Each collection's documents are read from its own file, so Load reads
// several at once. Files the dump reader does not recognise are logged.
func FromDir(ctx context.Context, path string, log zerolog.Logger) (*Dump, error) {
	dir, err := dump.OpenDir(path)
	if err != nil {
		return nil, err
	}
	for _, other := range dir.Other {
		log.Warn().Str("dump", path).Str("file", other).Msg("not part of a mongodump layout: ignored")
	}
	d := &Dump{}
	for _, c := range dir.Collections {
		coll, err := fromDumpCollection(c)
		if err != nil {
			return nil, err
		}
		if c.DataFile == "" && holdsData(c) {
			// mongodump always writes a .bson, empty for an empty collection:
			// a collection without one lost its data file, and loading it
			// empty would pass for a successful restore.
			return nil, &dump.ReadError{Source: c.MetadataFile, What: "collection " + c.Namespace.String() +
				" has metadata but no .bson data file: the dump is incomplete"}
		}
		if c.DataFile != "" {
			coll.Docs = func(ctx context.Context, fn func(bson.Raw) error) error {
				r, closer, err := c.OpenData()
				if err != nil {
					return err
				}
				defer closer.Close()
				return readDocs(ctx, r, fn)
			}
		}
		d.Collections = append(d.Collections, coll)
	}
	if dir.OplogPath != "" {
		d.openOplog = func() (*dump.BSONReader, io.Closer, error) { return dir.OpenOplog() }
		if err := d.scanOplog(ctx); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// holdsData tells a namespace whose documents a dump stores: everything
// but views and timeseries collections (whose data is in system.buckets.*).
func holdsData(c dump.Collection) bool {
	if c.Metadata == nil {
		return true
	}
	if t, _ := lookupString(c.Metadata.Options, "viewOn"); t != "" {
		return false
	}
	if _, err := c.Metadata.Options.LookupErr("timeseries"); err == nil {
		return false
	}
	return c.Metadata.Type == "" || c.Metadata.Type == "collection"
}

func lookupString(doc bson.Raw, key string) (string, bool) {
	if len(doc) == 0 {
		return "", false
	}
	return doc.Lookup(key).StringValueOK()
}

// readDocs feeds every document of r to fn.
func readDocs(ctx context.Context, r *dump.BSONReader, fn func(bson.Raw) error) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		doc, err := r.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(doc); err != nil {
			return err
		}
	}
}

// fromDumpCollection takes a dumped namespace's type, options and indexes
// from its metadata (and, in an archive, its prelude entry).
func fromDumpCollection(c dump.Collection) (Collection, error) {
	coll := Collection{DB: c.DB, Name: c.Collection, Type: c.Type}
	if m := c.Metadata; m != nil {
		if coll.Type == "" {
			coll.Type = m.Type
		}
		if len(m.Options) > 0 {
			coll.Options = m.Options
		}
		for i, raw := range m.Indexes {
			var spec bson.D
			if err := bson.Unmarshal(raw, &spec); err != nil {
				return Collection{}, fmt.Errorf("dump %s: index %d: %w", c.Namespace, i, err)
			}
			coll.Indexes = append(coll.Indexes, spec)
		}
	}
	return coll, nil
}

// openFile opens a spooled or plain file of concatenated BSON.
func openFile(path, name string) (*dump.BSONReader, io.Closer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	return dump.NewBSONReader(f, name), f, nil
}
