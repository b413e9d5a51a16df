package snapshot

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"time"

	"github.com/pierrec/lz4/v4"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/tidelog/tidelog/crypt"
	"github.com/tidelog/tidelog/store"
)

// copyTask is one data file to write: all of a collection, or one _id range.
type copyTask struct {
	coll   int    // index in Manifest.Collections
	part   int    // index in that collection's Files
	ns     string // for messages
	db     string
	name   string // collection name
	file   string // data file name
	filter bson.D // the documents of this file
	weight int64  // expected documents, to start big files first
}

// errStoreStopped ends the producer side of a copy whose put already returned.
var errStoreStopped = errors.New("the store stopped reading")

// copyFile streams the documents of t from the source into the store as one
// data file, and returns what the manifest records of it.
//
// The documents never sit in memory as a whole: a goroutine reads the
// cursor and compresses into one end of a pipe while the store reads the
// other end, so memory stays at about one lz4 block and one driver batch
// per worker whatever the collection's size. The store makes the file
// visible only when the pipe ends cleanly, so an error on either side
// leaves no file, or the file of an earlier attempt, never a partial one.
//
// With keys, the frame is encrypted on the way (an envelope bound to this
// file of this snapshot), and the manifest's size and CRC-32C are those of
// the encrypted bytes: the file's integrity can be checked without the key.
func copyFile(ctx context.Context, src *source, st store.Store, stream, id string, t copyTask, keys *crypt.Keyring) (File, error) {
	cur, err := src.coll(t.db, t.name).Find(ctx, t.filter)
	if err != nil {
		return File{}, fmt.Errorf("read %s: %w", t.ns, err)
	}
	pr, pw := io.Pipe()
	f := File{Name: t.file}
	produced := make(chan error, 1)
	go func() {
		err := writeFrame(ctx, cur, pw, &f, keys, objectContext(stream, id, t.file))
		pw.CloseWithError(err) // nil: the store reads io.EOF and commits the file
		produced <- err
	}()
	n, putErr := st.PutSnapshotFile(ctx, stream, id, t.file, pr)
	pr.CloseWithError(errStoreStopped) // unblocks the producer if the store gave up early
	// Report the side that failed first: a producer that stopped only
	// because the store did has nothing to add to the store's error.
	perr := <-produced
	switch {
	case perr != nil && !errors.Is(perr, errStoreStopped):
		return File{}, fmt.Errorf("read %s into %s: %w", t.ns, t.file, perr)
	case putErr != nil:
		return File{}, fmt.Errorf("store %s of %s: %w", t.file, t.ns, putErr)
	case perr != nil:
		return File{}, fmt.Errorf("read %s into %s: %w", t.ns, t.file, perr)
	}
	if n != f.StoredBytes {
		return File{}, fmt.Errorf("store %s of %s: stored %d bytes, wrote %d", t.file, t.ns, n, f.StoredBytes)
	}
	return f, nil
}

// writeFrame writes the documents of cur as one lz4 frame to w, encrypted
// with keys (if it holds a key) under identity, and fills in f's counts and
// checksum, which it computes over the bytes as written.
func writeFrame(ctx context.Context, cur *mongo.Cursor, w io.Writer, f *File, keys *crypt.Keyring, identity string) error {
	defer closeCursor(ctx, cur)
	cw := &crcWriter{w: w}
	var out io.Writer = cw
	var enc *crypt.Writer
	if keys.Len() > 0 {
		var err error
		if enc, err = crypt.NewWriter(cw, keys, identity); err != nil {
			return err
		}
		out = enc
	}
	zw := lz4.NewWriter(out)
	if err := zw.Apply(lz4Options()...); err != nil {
		return fmt.Errorf("lz4 options: %w", err)
	}
	for cur.Next(ctx) {
		if _, err := zw.Write(cur.Current); err != nil {
			return err
		}
		f.Docs++
		f.RawBytes += int64(len(cur.Current))
	}
	if err := cur.Err(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if enc != nil {
		if err := enc.Close(); err != nil {
			return err
		}
	}
	f.StoredBytes, f.CRC32C = cw.n, cw.sum
	return nil
}

// closeCursor releases cur on the server even when ctx has ended (the usual
// reason to close early), waiting at most a few seconds for it.
func closeCursor(ctx context.Context, cur *mongo.Cursor) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = cur.Close(cctx)
}

// crcWriter counts and checksums the bytes it passes on.
type crcWriter struct {
	w   io.Writer
	n   int64
	sum uint32
}

func (c *crcWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.sum = crc32.Update(c.sum, castagnoli, p[:n])
	c.n += int64(n)
	return n, err
}
