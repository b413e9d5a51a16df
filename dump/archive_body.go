package dump

import (
	"errors"
	"fmt"
	"hash/crc64"
	"io"
	"sort"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Next returns the next document of the archive and its namespace, in file
// order. The document is valid until the following call (copy it to keep
// it). At the end of a complete archive it returns io.EOF; a damaged,
// truncated or inconsistent archive gives a *ReadError naming the offset.
// After the first error every call returns that error.
func (a *Archive) Next() (Namespace, bson.Raw, error) {
	if a.err != nil {
		return Namespace{}, nil, a.err
	}
	ns, doc, err := a.next()
	if err != nil {
		a.err = err
		return Namespace{}, nil, err
	}
	return ns, doc, nil
}

func (a *Archive) next() (Namespace, bson.Raw, error) {
	for {
		off := a.r.off
		doc, term, err := a.r.next()
		if a.cur != nil { // inside a data block: documents up to a terminator
			if err != nil {
				if errors.Is(err, io.EOF) {
					return Namespace{}, nil, &ReadError{Source: "archive", Offset: off,
						What: fmt.Sprintf("archive ends inside a data block of %s", a.curNS), Err: io.ErrUnexpectedEOF}
				}
				return Namespace{}, nil, err
			}
			if term {
				a.cur = nil
				continue
			}
			a.cur.crc.Write(doc)
			a.cur.docs++
			return a.curNS, doc, nil
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return Namespace{}, nil, a.end(off)
			}
			return Namespace{}, nil, err
		}
		if term {
			return Namespace{}, nil, &ReadError{Source: "archive", Offset: off, What: "terminator where a namespace header was expected"}
		}
		if err := a.header(doc, off); err != nil {
			return Namespace{}, nil, err
		}
	}
}

// header handles a namespace header at off: it opens a data block, or
// closes the namespace (EOF), checking its CRC and the terminator after it.
func (a *Archive) header(doc bson.Raw, off int64) error {
	fail := func(what string, err error) error {
		return &ReadError{Source: "archive", Offset: off, What: what, Err: err}
	}
	var ns Namespace
	var err error
	if ns.DB, _, err = stringField(doc, "db"); err != nil {
		return fail("namespace header", err)
	}
	if ns.Collection, _, err = stringField(doc, "collection"); err != nil {
		return fail("namespace header", err)
	}
	if ns.Collection == "" {
		return fail("namespace header without a collection name", nil)
	}
	eof := false
	if v, lerr := doc.LookupErr("EOF"); lerr == nil {
		b, ok := v.BooleanOK()
		if !ok {
			return fail(fmt.Sprintf("namespace header of %s: EOF is %s, not a boolean", ns, v.Type), nil)
		}
		eof = b
	}
	st := a.byNS[ns]
	if st == nil {
		// Not in the prelude: mongorestore accepts it too; expose it.
		st = &nsState{}
		a.byNS[ns] = st
	}
	if st.closed {
		return fail(fmt.Sprintf("namespace header of %s after its EOF header", ns), nil)
	}
	if st.crc == nil {
		st.crc = crc64.New(a.crcTab)
	}
	st.opened = true
	if !eof {
		a.cur, a.curNS = st, ns
		return nil
	}
	st.closed = true
	// A missing CRC reads as 0, as mongorestore reads it: only an empty
	// namespace passes without one.
	crc, _, err := intField(doc, "CRC")
	if err != nil {
		return fail(fmt.Sprintf("EOF header of %s", ns), err)
	}
	if crc != int64(st.crc.Sum64()) {
		return fail(fmt.Sprintf("CRC mismatch for %s: the EOF header says %d, its %d documents give %d",
			ns, crc, st.docs, int64(st.crc.Sum64())), nil)
	}
	toff := a.r.off
	_, term, err := a.r.next()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return &ReadError{Source: "archive", Offset: toff, What: fmt.Sprintf("archive ends after the EOF header of %s, before its terminator", ns), Err: io.ErrUnexpectedEOF}
		}
		return err
	}
	if !term {
		return &ReadError{Source: "archive", Offset: toff, What: fmt.Sprintf("document after the EOF header of %s (a terminator must follow it)", ns)}
	}
	return nil
}

// end checks, at the end of the stream (offset off), that every namespace
// was closed; it returns io.EOF when the archive is complete.
func (a *Archive) end(off int64) error {
	var open []string
	for ns, st := range a.byNS {
		switch {
		case st.closed:
		case st.opened:
			open = append(open, ns.String()+" (opened, never closed)")
		case st.announced && st.typ != "timeseries":
			// mongodump writes an EOF header for every dumped namespace, even
			// empty ones; timeseries views have their data under system.buckets.
			open = append(open, ns.String()+" (in the prelude, never seen)")
		}
	}
	if len(open) == 0 {
		return io.EOF
	}
	sort.Strings(open)
	return &ReadError{Source: "archive", Offset: off, What: fmt.Sprintf("archive ends before the end of %d namespaces: %v", len(open), open), Err: io.ErrUnexpectedEOF}
}

// DocCount returns how many documents Next has returned for ns so far.
func (a *Archive) DocCount(ns Namespace) int64 {
	if st := a.byNS[ns]; st != nil {
		return st.docs
	}
	return 0
}
