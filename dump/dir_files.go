package dump

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"strings"
)

// readMetadataFile reads and parses a .metadata.json or .metadata.json.gz.
func readMetadataFile(path string) (*Metadata, error) {
	r, closeFn, err := openMaybeGzip(path)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	data, err := io.ReadAll(io.LimitReader(r, maxMetadataBytes+1))
	if err != nil {
		return nil, fmt.Errorf("metadata file %s: %w", path, err)
	}
	if len(data) > maxMetadataBytes {
		return nil, fmt.Errorf("metadata file %s: over %d bytes: not metadata", path, maxMetadataBytes)
	}
	m, err := ParseMetadata(data)
	if err != nil {
		return nil, fmt.Errorf("metadata file %s: %w", path, err)
	}
	return m, nil
}

// openMaybeGzip opens path, gunzipping it when its name ends in .gz (as
// mongorestore decides: by the name; a .gz file that is not gzip is an error).
func openMaybeGzip(path string) (io.Reader, func() error, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("dump directory: %w", err)
	}
	if !strings.HasSuffix(path, ".gz") {
		return f, f.Close, nil
	}
	gz, err := gzip.NewReader(bufio.NewReaderSize(f, 64<<10))
	if err != nil {
		f.Close()
		return nil, nil, &ReadError{Source: path, Offset: 0, What: "not a readable gzip file", Err: err}
	}
	closeFn := func() error {
		gz.Close()
		return f.Close()
	}
	return gz, closeFn, nil
}

// OpenOplog opens the dump's oplog (gunzipped if needed) as a reader of
// concatenated BSON entries; it fails when the dump has none. Close it.
func (d *Dir) OpenOplog() (*BSONReader, io.Closer, error) {
	if d.OplogPath == "" {
		return nil, nil, fmt.Errorf("dump directory %s has no oplog.bson", d.Path)
	}
	r, closeFn, err := openMaybeGzip(d.OplogPath)
	if err != nil {
		return nil, nil, err
	}
	return NewBSONReader(r, d.OplogPath), closerFunc(closeFn), nil
}

type closerFunc func() error

func (c closerFunc) Close() error { return c() }
