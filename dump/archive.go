package dump

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc64"
	"io"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// archiveMagic starts every mongodump archive: 0x8199e26d, little-endian.
const archiveMagic = 0x8199e26d

// Header is an archive's header document.
type Header struct {
	ConcurrentCollections int64  // mongodump's --numParallelCollections
	FormatVersion         string // the archive format version, "0.1"
	ServerVersion         string // the dumped server's version (empty in old archives)
	ToolVersion           string // the mongodump that wrote it
	Raw                   bson.Raw
}

// Archive reads a mongodump --archive stream: the prelude (header and one
// entry per collection) when opened, then the documents through Next, in
// file order, with collections interleaved as mongodump wrote them.
//
// Each namespace's end-of-file header carries a CRC-64 (ECMA polynomial,
// as mongo-tools' archive spec and multiplexer define it) of all the
// namespace's document bytes, concatenated in order; Next verifies it and
// fails on a mismatch. Next also fails when the stream ends before every
// namespace it opened, and every namespace the prelude announced (except
// timeseries views, whose data is in their system.buckets collection), was
// closed: a truncated archive never reads as a complete one. Data of a
// namespace the prelude does not list is streamed like any other (as
// mongorestore accepts it); it just has no entry in Collections.
type Archive struct {
	Header      Header
	Collections []Collection // from the prelude, in its order

	r      *BSONReader
	byNS   map[Namespace]*nsState
	cur    *nsState // namespace of the data block being read; nil between blocks
	curNS  Namespace
	err    error // sticky: io.EOF at the end, or the first error
	crcTab *crc64.Table
}

type nsState struct {
	announced bool // in the prelude
	typ       string
	opened    bool // a header (data or EOF) was seen
	closed    bool // its EOF header was seen
	crc       hash.Hash64
	docs      int64
}

// OpenArchive reads the magic and the prelude of a mongodump archive from r,
// gunzipping it first when it starts with the gzip magic. The caller owns r;
// Next reads the rest on demand. It returns a *ReadError when r is not an
// archive or its prelude is damaged.
func OpenArchive(r io.Reader) (*Archive, error) {
	in, err := maybeGunzip(r)
	if err != nil {
		return nil, &ReadError{Source: "archive", Offset: 0, What: "not a readable gzip stream", Err: err}
	}
	a := &Archive{r: NewBSONReader(in, "archive"), byNS: map[Namespace]*nsState{}, crcTab: crc64.MakeTable(crc64.ECMA)}
	var magic [4]byte
	n, err := io.ReadFull(a.r.r, magic[:])
	a.r.off += int64(n)
	if err != nil {
		what := "cannot read the archive magic"
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			what, err = "too short for a mongodump archive", io.ErrUnexpectedEOF
		}
		return nil, &ReadError{Source: "archive", Offset: 0, What: what, Err: err}
	}
	if m := binary.LittleEndian.Uint32(magic[:]); m != archiveMagic {
		return nil, &ReadError{Source: "archive", Offset: 0, What: fmt.Sprintf("magic %#08x is not a mongodump archive's (%#08x)", m, archiveMagic)}
	}
	if err := a.readPrelude(); err != nil {
		return nil, err
	}
	return a, nil
}

// readPrelude reads the header document, the collection entries and the
// terminator that ends them.
func (a *Archive) readPrelude() error {
	off := a.r.off
	doc, term, err := a.r.next()
	if err != nil {
		return a.eofIsTruncation(err, off, "archive header")
	}
	if term {
		return &ReadError{Source: "archive", Offset: off, What: "terminator where the archive header was expected"}
	}
	h, err := parseHeader(doc)
	if err != nil {
		return &ReadError{Source: "archive", Offset: off, What: "archive header", Err: err}
	}
	a.Header = h
	for {
		off := a.r.off
		doc, term, err := a.r.next()
		if err != nil {
			return a.eofIsTruncation(err, off, "archive prelude (collection entries)")
		}
		if term {
			return nil
		}
		c, err := parseCollectionEntry(doc)
		if err != nil {
			return &ReadError{Source: "archive", Offset: off, What: "prelude collection entry", Err: err}
		}
		if st := a.byNS[c.Namespace]; st != nil {
			return &ReadError{Source: "archive", Offset: off, What: fmt.Sprintf("prelude lists %s twice", c.Namespace)}
		}
		a.byNS[c.Namespace] = &nsState{announced: true, typ: c.collType()}
		a.Collections = append(a.Collections, c)
	}
}

// eofIsTruncation turns a clean end of stream where an item was required
// into a truncation error at off.
func (a *Archive) eofIsTruncation(err error, off int64, what string) error {
	if errors.Is(err, io.EOF) {
		return &ReadError{Source: "archive", Offset: off, What: "archive ends before the " + what, Err: io.ErrUnexpectedEOF}
	}
	return err
}

// collType is the collection type from the prelude entry or its metadata.
func (c Collection) collType() string {
	if c.Type != "" {
		return c.Type
	}
	if c.Metadata != nil {
		return c.Metadata.Type
	}
	return ""
}
