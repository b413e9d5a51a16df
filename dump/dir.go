package dump

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// maxMetadataBytes bounds a .metadata.json file: index specs and options
// are small; anything near this is not metadata.
const maxMetadataBytes = 16 << 20

// Dir reads a mongodump directory dump: one directory per database holding
// <coll>.bson and <coll>.metadata.json (or their .gz variants), and at the
// top oplog.bson when dumped with --oplog.
//
// Next streams the documents of every .bson file, namespace by namespace
// in sorted order, one document at a time; the oplog is not part of that
// stream (OplogPath names it). Files OpenDir does not recognise are listed
// in Other, never ignored silently.
type Dir struct {
	Path        string
	Collections []Collection // sorted by namespace; every .bson and every .metadata.json
	// OplogPath is the dump's oplog.bson or oplog.bson.gz ("" when absent);
	// OpenOplog reads either.
	OplogPath string
	// Other lists, relative to Path, the files and directories that are
	// none of the above (prelude.json, stray files): the caller decides.
	Other []string

	next int       // index in Collections of the next data file to open
	cur  *dataFile // the data file being read
	err  error     // sticky: io.EOF at the end, or the first error
}

// OpenDir scans a directory dump and parses its metadata files; it reads
// no documents (Next does). It fails when path is not a directory, a
// metadata file is unreadable or malformed, or a namespace has both a
// plain and a gzipped file of one kind (which one would be meant?).
func OpenDir(path string) (*Dir, error) {
	top, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("dump directory: %w", err)
	}
	d := &Dir{Path: path}
	byNS := map[Namespace]*Collection{}
	for _, e := range top {
		name := e.Name()
		switch {
		case e.IsDir():
			if err := d.scanDB(filepath.Join(path, name), name, byNS); err != nil {
				return nil, err
			}
		case name == "oplog.bson" || name == "oplog.bson.gz":
			if d.OplogPath != "" {
				return nil, fmt.Errorf("dump directory %s: both oplog.bson and oplog.bson.gz", path)
			}
			d.OplogPath = filepath.Join(path, name)
		default:
			d.Other = append(d.Other, name)
		}
	}
	for _, c := range byNS {
		d.Collections = append(d.Collections, *c)
	}
	sort.Slice(d.Collections, func(i, j int) bool {
		a, b := d.Collections[i].Namespace, d.Collections[j].Namespace
		return a.DB < b.DB || a.DB == b.DB && a.Collection < b.Collection
	})
	return d, nil
}

// scanDB records the files of one database directory. A data file and a
// metadata file pair by their file name; the namespace is the metadata's
// collectionName when it has one (newer tools truncate long names in file
// names), else the unescaped file name.
func (d *Dir) scanDB(dir, dirName string, byNS map[Namespace]*Collection) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("dump directory: %w", err)
	}
	byBase := map[string]*Collection{}
	var bases []string
	for _, e := range entries {
		name := e.Name()
		base, kind := splitDumpFile(name)
		if e.IsDir() || kind == "" {
			d.Other = append(d.Other, filepath.Join(dirName, name))
			continue
		}
		c := byBase[base]
		if c == nil {
			c = &Collection{}
			byBase[base] = c
			bases = append(bases, base)
		}
		file := filepath.Join(dir, name)
		slot := &c.DataFile
		if kind == "metadata" {
			slot = &c.MetadataFile
		}
		if *slot != "" {
			return fmt.Errorf("dump directory: two %s files for %s: %s and %s", kind, base, *slot, file)
		}
		*slot = file
	}
	db := unescape(dirName)
	for _, base := range bases {
		c := byBase[base]
		c.Namespace = Namespace{DB: db, Collection: unescape(base)}
		if c.MetadataFile != "" {
			if c.Metadata, err = readMetadataFile(c.MetadataFile); err != nil {
				return err
			}
			if c.Metadata.CollectionName != "" {
				c.Collection = c.Metadata.CollectionName
			}
		}
		if prev := byNS[c.Namespace]; prev != nil {
			return fmt.Errorf("dump directory: two sets of files for %s: %s and %s", c.Namespace, firstFile(*prev), firstFile(*c))
		}
		byNS[c.Namespace] = c
	}
	return nil
}

// firstFile names one of a collection's files, for errors.
func firstFile(c Collection) string {
	if c.DataFile != "" {
		return c.DataFile
	}
	return c.MetadataFile
}

// splitDumpFile returns a file's collection part and kind ("data",
// "metadata", or "" for a file that is neither).
func splitDumpFile(name string) (base, kind string) {
	for _, s := range []struct{ suffix, kind string }{
		{".metadata.json.gz", "metadata"}, {".metadata.json", "metadata"},
		{".bson.gz", "data"}, {".bson", "data"},
	} {
		if b, ok := strings.CutSuffix(name, s.suffix); ok && b != "" {
			return b, s.kind
		}
	}
	return "", ""
}

// unescape undoes mongodump's escaping of names in file names (%2F...);
// a name that is not a valid escape is kept as it is.
func unescape(name string) string {
	if u, err := url.PathUnescape(name); err == nil {
		return u
	}
	return name
}
