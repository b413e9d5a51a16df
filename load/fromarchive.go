package load

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/dump"
	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/replay"
)

// FromArchive reads a mongodump --archive stream (gzip-compressed or not:
// dump.OpenArchive tells by its magic) to its end, spooling each
// namespace's documents to a file of its own in a new directory under
// spoolDir ("": the system's temp directory), which Close removes.
//
// An archive is one stream with the collections interleaved, read once;
// spooling makes each collection a stream of its own that Load reads in
// parallel, lets the replay read the oplog twice, and, since the archive's
// checksums are all verified while spooling, means a damaged or truncated
// archive fails before anything is written to the target. The cost is disk:
// the spool needs the archive's uncompressed size. Namespaces that are never
// loaded (replay.Classify: local, config, server-internal system.*) are not
// spooled.
func FromArchive(ctx context.Context, r io.Reader, spoolDir string, log zerolog.Logger) (*Dump, error) {
	a, err := dump.OpenArchive(r)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(spoolDir, "tidelog-archive-")
	if err != nil {
		return nil, fmt.Errorf("archive spool: %w", err)
	}
	d := &Dump{cleanup: func() error { return os.RemoveAll(dir) }}
	if err := d.spoolArchive(ctx, a, dir, log); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

func (d *Dump) spoolArchive(ctx context.Context, a *dump.Archive, dir string, log zerolog.Logger) error {
	sp := newSpool(dir)
	skipped := map[string]bool{}
	err := dump.Each(a, func(ns dump.Namespace, doc bson.Raw) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if ns.IsOplog() {
			ts, err := oplog.EntryTS(doc)
			if err != nil {
				return fmt.Errorf("archive oplog entry %d: %w", d.OplogEntries+1, err)
			}
			d.OplogEntries++
			if ts.After(d.OplogEnd) {
				d.OplogEnd = ts
			}
		} else if replay.Classify("i", ns.DB, ns.Collection, false) == replay.Internal {
			skipped[ns.String()] = true
			return nil
		}
		return sp.write(ns.String(), doc)
	})
	if ferr := sp.finish(); err == nil {
		err = ferr
	}
	if err != nil {
		return err
	}
	for ns := range skipped {
		log.Debug().Str("ns", ns).Msg("archive namespace not spooled: never loaded")
	}

	listed := map[string]bool{}
	for _, c := range a.Collections {
		listed[c.Namespace.String()] = true
		if c.IsOplog() {
			continue
		}
		coll, err := fromDumpCollection(c)
		if err != nil {
			return err
		}
		coll.Docs = sp.docs(c.Namespace.String())
		d.Collections = append(d.Collections, coll)
	}
	// Data of namespaces the prelude does not list: loaded as plain
	// collections, as mongorestore does.
	for ns := range sp.files {
		if listed[ns] {
			continue
		}
		n := parseArchiveNS(ns)
		if n.IsOplog() {
			continue
		}
		log.Warn().Str("ns", ns).Msg("archive holds data for a namespace its prelude does not list: loading it as a plain collection")
		d.Collections = append(d.Collections, Collection{DB: n.DB, Name: n.Collection, Docs: sp.docs(ns)})
	}
	if sf := sp.files[dump.Namespace{Collection: "oplog"}.String()]; sf != nil {
		d.openOplog = func() (*dump.BSONReader, io.Closer, error) { return openFile(sf.path, "the archive's oplog") }
	}
	return nil
}

// docs reads ns's spool back; nil when the archive held no documents for it.
func (s *spool) docs(ns string) func(context.Context, func(bson.Raw) error) error {
	sf := s.files[ns]
	if sf == nil {
		return nil
	}
	return func(ctx context.Context, fn func(bson.Raw) error) error {
		r, c, err := openFile(sf.path, "spool of "+ns)
		if err != nil {
			return fmt.Errorf("archive spool: %w", err)
		}
		defer c.Close()
		return readDocs(ctx, r, fn)
	}
}

// parseArchiveNS splits a namespace string as dump.Namespace.String wrote it.
func parseArchiveNS(ns string) dump.Namespace {
	db, coll := replay.SplitNS(ns)
	return dump.Namespace{DB: db, Collection: coll}
}
