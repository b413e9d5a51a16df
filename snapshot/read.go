package snapshot

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/pierrec/lz4/v4"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/crypt"
	"github.com/tidelog/tidelog/store"
)

// Docs streams the documents of collection c of snapshot m, file after
// file in the manifest's order, to fn, verifying as it goes: the lz4 frame
// header, every lz4 block checksum (before any document of the block is
// handed out), every document's framing and BSON validity, the frame's
// content checksum, and at the end of each file its document count, raw
// size, stored size and CRC-32C against the manifest. Any mismatch, a
// missing file included, is an error wrapping ErrCorrupt that names the
// file.
//
// doc is valid only until fn returns; fn copies what it keeps. Documents of
// a file are handed out before the file's final checks, so a caller that
// must not act on a file that later fails verifies first (Verify) or can
// undo. An error from fn stops the read and is returned as is.
func Docs(ctx context.Context, st store.Store, m *Manifest, c Collection, fn func(doc bson.Raw) error) error {
	for _, f := range c.Files {
		if err := readFile(ctx, st, m, f, fn); err != nil {
			return err
		}
	}
	return nil
}

// readFile streams and verifies one data file.
func readFile(ctx context.Context, st store.Store, m *Manifest, f File, fn func(bson.Raw) error) error {
	bad := func(err error, format string, args ...any) error {
		return &CorruptError{Stream: m.Stream, ID: m.ID, File: f.Name, Reason: fmt.Sprintf(format, args...), Err: err}
	}
	rc, err := st.OpenSnapshotFile(ctx, m.Stream, m.ID, f.Name)
	if errors.Is(err, store.ErrNotExist) {
		return bad(err, "missing from the store")
	}
	if err != nil {
		return fmt.Errorf("snapshot %s/%s: %w", m.Stream, m.ID, err)
	}
	defer rc.Close()
	cr := &crcReader{r: bufio.NewReaderSize(rc, 256<<10), ctx: ctx}
	// fail reports a read that went wrong: as damage unless it was the
	// context or the store that failed, not the bytes.
	fail := func(err error, format string, args ...any) error {
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("snapshot %s/%s: read %s: %w", m.Stream, m.ID, f.Name, cerr)
		}
		if cr.err != nil && !errors.Is(cr.err, io.EOF) {
			return fmt.Errorf("snapshot %s/%s: read %s: %w", m.Stream, m.ID, f.Name, cr.err)
		}
		return bad(err, format, args...)
	}
	body, dec, err := openFile(cr, m, f.Name)
	if err != nil {
		var ce *CorruptError
		var ke *crypt.KeyError
		if errors.As(err, &ce) || errors.As(err, &ke) || errors.Is(err, ErrNotEncrypted) || errors.Is(err, ErrUnsupported) {
			return err
		}
		return fail(err, "cut short at the start")
	}
	// fail, and the checks of an encrypted file: damage the envelope found
	// is reported as such, before what the lz4 reader made of it.
	failBody := func(err error, format string, args ...any) error {
		if dec != nil {
			if derr := dec.Err(); derr != nil && derr != io.EOF && ctx.Err() == nil && (cr.err == nil || cr.err == io.EOF) {
				return decryptErr(derr, m.Stream, m.ID, f.Name)
			}
		}
		return fail(err, format, args...)
	}
	var head [frameStart]byte
	if n, err := io.ReadFull(body, head[:]); err != nil {
		return failBody(err, "cut short in the lz4 frame header (%d bytes)", n)
	}
	if err := checkFrameStart(head[:]); err != nil {
		return bad(nil, "%v", err)
	}
	zr := lz4.NewReader(io.MultiReader(bytes.NewReader(head[:]), body))
	if err := zr.Apply(lz4.ConcurrencyOption(1)); err != nil {
		return fmt.Errorf("lz4 options: %w", err)
	}
	dr := docReader{r: bufio.NewReaderSize(zr, 1<<20)}
	var docs, raw int64
	for {
		doc, err := dr.next(f.RawBytes - raw)
		if err == io.EOF {
			break
		}
		if err != nil {
			return failBody(err, "document %d at raw byte %d", docs+1, raw)
		}
		if err := fn(doc); err != nil {
			return err
		}
		docs++
		raw += int64(len(doc))
	}
	// The lz4 frame ended (its content checksum held); whatever follows it
	// in the file is damage, counted by the size and CRC checks below. In
	// an envelope, reading to its end authenticates the final chunk.
	if n, err := io.Copy(io.Discard, body); err != nil {
		return failBody(err, "after the lz4 frame")
	} else if n > 0 && dec != nil {
		return bad(nil, "%d bytes after the lz4 frame in the encrypted file", n)
	}
	switch {
	case docs != f.Docs:
		return bad(nil, "holds %d documents, the manifest says %d", docs, f.Docs)
	case raw != f.RawBytes:
		return bad(nil, "holds %d raw bytes, the manifest says %d", raw, f.RawBytes)
	case cr.n != f.StoredBytes:
		return bad(nil, "is %d bytes, the manifest says %d", cr.n, f.StoredBytes)
	case cr.sum != f.CRC32C:
		return bad(nil, "CRC-32C %08x, the manifest says %08x", cr.sum, f.CRC32C)
	}
	return nil
}

// openFile starts reading a data file from cr: an encrypted file (known by
// its envelope magic) through a decrypting reader, which it returns too;
// a plaintext one as it is, unless encryption is required: by the read
// options (ErrNotEncrypted), or because the manifest itself was encrypted
// (a *CorruptError: the file is damaged or forged). Its errors are final
// (a *CorruptError, a key or policy error) or cr's.
func openFile(cr *crcReader, m *Manifest, file string) (io.Reader, *crypt.Reader, error) {
	var prefix [len(crypt.EnvelopeMagic)]byte
	n, err := io.ReadFull(cr, prefix[:])
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, nil, err
	}
	body := io.MultiReader(bytes.NewReader(prefix[:n]), cr)
	if !crypt.IsEnvelope(prefix[:n]) {
		switch {
		case m.Encrypted:
			// The manifest was sealed, so its files were too: whatever
			// this is, damage or a forgery, no flag makes it readable.
			return nil, nil, &CorruptError{Stream: m.Stream, ID: m.ID, File: file,
				Reason: "not an encrypted envelope, but the snapshot is encrypted: damaged or forged"}
		case m.read.RequireEncryption:
			return nil, nil, &crypt.NotEncryptedError{Object: objectName(m.Stream, m.ID, file)}
		}
		return body, nil, nil
	}
	dec, err := crypt.NewReader(body, m.read.Keys, objectContext(m.Stream, m.ID, file))
	if err != nil {
		return nil, nil, decryptErr(err, m.Stream, m.ID, file)
	}
	return dec, dec, nil
}

// docReader splits a stream of concatenated BSON documents.
type docReader struct {
	r   *bufio.Reader
	buf []byte
}

// next returns the next document, io.EOF at a clean end (no byte of a
// further document), or an error. left is how many raw bytes the manifest
// still expects: a length prefix beyond it is damage, found before the
// document is allocated.
func (d *docReader) next(left int64) (bson.Raw, error) {
	p, err := d.r.Peek(4)
	if len(p) == 0 && err == io.EOF {
		return nil, io.EOF
	}
	if err != nil {
		return nil, cutShort(err, "length prefix")
	}
	n := int(binary.LittleEndian.Uint32(p))
	switch {
	case n < minDocSize || n > maxDocSize:
		return nil, fmt.Errorf("BSON length %d not in [%d, %d]", n, minDocSize, maxDocSize)
	case int64(n) > left:
		return nil, fmt.Errorf("BSON length %d overruns the %d raw bytes the manifest has left", n, left)
	}
	if cap(d.buf) < n {
		d.buf = make([]byte, n, max(n, 64<<10))
	}
	doc := d.buf[:n]
	if _, err := io.ReadFull(d.r, doc); err != nil {
		return nil, cutShort(err, "document")
	}
	if err := bson.Raw(doc).Validate(); err != nil {
		return nil, fmt.Errorf("not a valid BSON document: %w", err)
	}
	return doc, nil
}

// cutShort turns an early end of the frame into an error that says so.
func cutShort(err error, what string) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("the lz4 frame ends inside a %s", what)
	}
	return err
}

// crcReader counts and checksums the stored bytes it reads, and stops
// when ctx ends. It keeps its source's error so that a failing store is
// not reported as damage.
type crcReader struct {
	r   io.Reader
	ctx context.Context
	n   int64
	sum uint32
	err error
}

func (c *crcReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	c.sum = crc32.Update(c.sum, castagnoli, p[:n])
	c.n += int64(n)
	if err != nil {
		c.err = err
	}
	return n, err
}
