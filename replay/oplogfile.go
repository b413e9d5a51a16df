package replay

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/oplog"
)

// maxEntryBytes bounds one oplog entry read from a file: 16 MiB documents
// plus the oplog's own fields, with room to spare. Anything longer is damage.
const maxEntryBytes = 48 << 20

// OplogFile is a Source over a file of concatenated BSON oplog entries, such
// as mongodump's oplog.bson, yielding the entries with ts <= to. It reads one
// entry at a time, so memory stays bounded by the largest entry.
func OplogFile(path string, to oplog.Timestamp) Source {
	return oplogFile(path, func(ts oplog.Timestamp) bool { return !ts.After(to) })
}

// OplogFileAfter is the rest of the same file: the entries with ts > after.
// It is the Lookahead.Source of a replay of OplogFile(path, after); the
// replay stops reading it once it has what it looks for.
func OplogFileAfter(path string, after oplog.Timestamp) Source {
	return oplogFile(path, func(ts oplog.Timestamp) bool { return ts.After(after) })
}

// Concat yields the entries of each source in turn, stopping at the first
// error. It joins the lookahead parts of several oplog files given in order.
func Concat(srcs ...Source) Source {
	return func(fn func(bson.Raw) error) error {
		for _, src := range srcs {
			if err := src(fn); err != nil {
				return err
			}
		}
		return nil
	}
}

// oplogFile reads path, yielding the entries whose ts keep accepts.
func oplogFile(path string, keep func(oplog.Timestamp) bool) Source {
	return func(fn func(bson.Raw) error) error {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("oplog file: %w", err)
		}
		defer f.Close()
		r := bufio.NewReaderSize(f, 1<<20)
		var buf []byte
		var offset int64
		for {
			var head [4]byte
			if _, err := io.ReadFull(r, head[:]); err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return fmt.Errorf("oplog file %s: truncated at byte %d: %w", path, offset, err)
			}
			n := int64(binary.LittleEndian.Uint32(head[:]))
			if n < 5 || n > maxEntryBytes {
				return fmt.Errorf("oplog file %s: entry at byte %d claims %d bytes: not a BSON file, or damaged", path, offset, n)
			}
			if int64(cap(buf)) < n {
				buf = make([]byte, n)
			}
			buf = buf[:n]
			copy(buf, head[:])
			if _, err := io.ReadFull(r, buf[4:]); err != nil {
				return fmt.Errorf("oplog file %s: entry at byte %d is truncated: %w", path, offset, err)
			}
			entry := bson.Raw(buf)
			if err := entry.Validate(); err != nil {
				return fmt.Errorf("oplog file %s: entry at byte %d is not valid BSON: %w", path, offset, err)
			}
			ts, err := oplog.EntryTS(entry)
			if err != nil {
				return fmt.Errorf("oplog file %s: entry at byte %d: %w", path, offset, err)
			}
			offset += n
			if !keep(ts) {
				continue
			}
			if err := fn(entry); err != nil {
				return err
			}
		}
	}
}
