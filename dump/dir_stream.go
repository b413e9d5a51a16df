package dump

import (
	"errors"
	"fmt"
	"io"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// dataFile is the data file a Dir is reading.
type dataFile struct {
	ns    Namespace
	close func() error // closes the gzip reader (if any) and the file
	r     *BSONReader
}

// Next returns the next document and its namespace: every document of the
// first namespace's data file, then the next namespace's, in Collections
// order. The document is valid until the following call. It returns io.EOF
// after the last, and a *ReadError (naming the file and offset) for a
// damaged file. After the first error every call returns that error.
func (d *Dir) Next() (Namespace, bson.Raw, error) {
	if d.err != nil {
		return Namespace{}, nil, d.err
	}
	for {
		if d.cur == nil {
			if err := d.openNext(); err != nil {
				d.err = err
				return Namespace{}, nil, err
			}
		}
		doc, err := d.cur.r.Next()
		if err == nil {
			return d.cur.ns, doc, nil
		}
		cerr := d.cur.close()
		d.cur = nil
		if !errors.Is(err, io.EOF) {
			d.err = err
			return Namespace{}, nil, err
		}
		if cerr != nil {
			d.err = fmt.Errorf("dump directory: %w", cerr)
			return Namespace{}, nil, d.err
		}
	}
}

// openNext opens the next namespace's data file; io.EOF when none is left.
func (d *Dir) openNext() error {
	for d.next < len(d.Collections) {
		c := d.Collections[d.next]
		d.next++
		if c.DataFile == "" {
			continue // metadata only: a view, an empty timeseries, ...
		}
		r, closeFn, err := openMaybeGzip(c.DataFile)
		if err != nil {
			return err
		}
		d.cur = &dataFile{ns: c.Namespace, close: closeFn, r: NewBSONReader(r, c.DataFile)}
		return nil
	}
	return io.EOF
}

// Close closes the data file being read, if any. Next after Close fails.
func (d *Dir) Close() error {
	if d.err == nil {
		d.err = errors.New("dump directory: Next after Close")
	}
	if d.cur == nil {
		return nil
	}
	err := d.cur.close()
	d.cur = nil
	return err
}
