package replay

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/oplog"
)

// fuzzEntries are oplog entries of every shape the replayer classifies:
// CRUD, $v:1 and $v:2 updates, no-ops, commands, a transaction's applyOps,
// a prepared one and its commit, and an unknown command.
func fuzzEntries(t testing.TB) [][]byte {
	ts := func(i uint32) bson.Timestamp { return bson.Timestamp{T: 1700000000, I: i} }
	lsid := bson.D{{Key: "id", Value: bson.Binary{Subtype: 4, Data: bytes.Repeat([]byte{7}, 16)}}}
	docs := []bson.D{
		{{Key: "ts", Value: ts(1)}, {Key: "op", Value: "c"}, {Key: "ns", Value: "shop.$cmd"}, {Key: "o", Value: bson.D{{Key: "create", Value: "orders"}}}},
		{{Key: "ts", Value: ts(2)}, {Key: "op", Value: "i"}, {Key: "ns", Value: "shop.orders"}, {Key: "o", Value: bson.D{{Key: "_id", Value: int32(1)}, {Key: "a", Value: "x"}}}},
		{{Key: "ts", Value: ts(3)}, {Key: "op", Value: "u"}, {Key: "ns", Value: "shop.orders"}, {Key: "o2", Value: bson.D{{Key: "_id", Value: int32(1)}}},
			{Key: "o", Value: bson.D{{Key: "$v", Value: int32(2)}, {Key: "diff", Value: bson.D{{Key: "u", Value: bson.D{{Key: "a", Value: "y"}}}}}}}},
		{{Key: "ts", Value: ts(4)}, {Key: "op", Value: "u"}, {Key: "ns", Value: "shop.orders"}, {Key: "o2", Value: bson.D{{Key: "_id", Value: int32(1)}}},
			{Key: "o", Value: bson.D{{Key: "$v", Value: int32(1)}, {Key: "$set", Value: bson.D{{Key: "b", Value: 1.5}}}}}},
		{{Key: "ts", Value: ts(5)}, {Key: "op", Value: "n"}, {Key: "ns", Value: ""}, {Key: "o", Value: bson.D{{Key: "msg", Value: "periodic noop"}}}},
		{{Key: "ts", Value: ts(6)}, {Key: "op", Value: "c"}, {Key: "ns", Value: "admin.$cmd"}, {Key: "lsid", Value: lsid}, {Key: "txnNumber", Value: int64(1)},
			{Key: "o", Value: bson.D{{Key: "applyOps", Value: bson.A{
				bson.D{{Key: "op", Value: "i"}, {Key: "ns", Value: "shop.orders"}, {Key: "o", Value: bson.D{{Key: "_id", Value: int32(2)}}}},
				bson.D{{Key: "op", Value: "d"}, {Key: "ns", Value: "shop.orders"}, {Key: "o", Value: bson.D{{Key: "_id", Value: int32(1)}}}},
			}}}}},
		{{Key: "ts", Value: ts(7)}, {Key: "op", Value: "c"}, {Key: "ns", Value: "admin.$cmd"}, {Key: "lsid", Value: lsid}, {Key: "txnNumber", Value: int64(2)},
			{Key: "o", Value: bson.D{{Key: "applyOps", Value: bson.A{
				bson.D{{Key: "op", Value: "i"}, {Key: "ns", Value: "shop.other"}, {Key: "o", Value: bson.D{{Key: "_id", Value: "p"}}}},
			}}, {Key: "prepare", Value: true}}}},
		{{Key: "ts", Value: ts(8)}, {Key: "op", Value: "c"}, {Key: "ns", Value: "admin.$cmd"}, {Key: "lsid", Value: lsid}, {Key: "txnNumber", Value: int64(2)},
			{Key: "o", Value: bson.D{{Key: "commitTransaction", Value: int32(1)}, {Key: "commitTimestamp", Value: ts(7)}}}},
		{{Key: "ts", Value: ts(9)}, {Key: "op", Value: "c"}, {Key: "ns", Value: "shop.$cmd"}, {Key: "o", Value: bson.D{{Key: "renameCollection", Value: "shop.orders"}, {Key: "to", Value: "shop.old"}}}},
		{{Key: "ts", Value: ts(10)}, {Key: "op", Value: "c"}, {Key: "ns", Value: "shop.$cmd"}, {Key: "o", Value: bson.D{{Key: "shardCollection", Value: "shop.old"}}}},
		{{Key: "ts", Value: ts(11)}, {Key: "op", Value: "d"}, {Key: "ns", Value: "admin.system.users"}, {Key: "o", Value: bson.D{{Key: "_id", Value: "admin.u"}}}},
	}
	out := make([][]byte, len(docs))
	for i, d := range docs {
		b, err := bson.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = b
	}
	return out
}

// splitEntries reads data as concatenated BSON documents, as a segment
// hands them out (valid BSON, length-framed); it stops at the first piece
// that is not one.
func splitEntries(data []byte) []bson.Raw {
	var out []bson.Raw
	for len(data) >= 5 {
		n := int(binary.LittleEndian.Uint32(data))
		if n < 5 || n > len(data) || bson.Raw(data[:n]).Validate() != nil {
			break
		}
		out = append(out, bson.Raw(data[:n]))
		data = data[n:]
	}
	return out
}

// FuzzCheck feeds sequences of oplog entries to Check, the replay's first
// pass, which classifies every entry without a target: what it writes,
// whether the replayer can apply it.
//
// Invariants: no panic; the same entries give the same answer every time;
// every namespace Check returns names a database and a collection.
func FuzzCheck(f *testing.F) {
	entries := fuzzEntries(f)
	f.Add(bytes.Join(entries, nil))
	for _, e := range entries {
		f.Add(e)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		src := splitEntries(data)
		if len(src) == 0 {
			return
		}
		check := func() ([]string, string) {
			nss, err := Check(context.Background(), entrySource(src), Options{SpillDir: dir, TxnMemory: 1 << 10}, zerolog.Nop())
			if err != nil {
				return nil, err.Error()
			}
			return nss, ""
		}
		nss, failure := check()
		nss2, failure2 := check()
		if !reflect.DeepEqual(nss, nss2) || failure != failure2 {
			t.Fatalf("same entries, different answers: %q %q, then %q %q", nss, failure, nss2, failure2)
		}
		for _, ns := range nss {
			if db, coll, ok := strings.Cut(ns, "."); !ok || db == "" || coll == "" {
				t.Fatalf("Check returns namespace %q, not db.collection", ns)
			}
		}
		if left, err := os.ReadDir(dir); err != nil || len(left) != 0 {
			t.Fatalf("Check left %d spill files behind (%v)", len(left), err)
		}
	})
}

func entrySource(entries []bson.Raw) Source {
	return func(fn func(bson.Raw) error) error {
		for _, e := range entries {
			if err := fn(e); err != nil {
				return err
			}
		}
		return nil
	}
}

// FuzzOplogFile feeds arbitrary bytes to the oplog.bson reader (apply,
// restore-dump).
//
// Invariants: no panic; every error names the file and the byte offset of
// the entry at fault; the entries handed out are valid BSON with a ts, and
// at the end of a clean read they are the whole file.
func FuzzOplogFile(f *testing.F) {
	entries := fuzzEntries(f)
	f.Add(bytes.Join(entries, nil))
	f.Add(entries[0][:7])
	f.Add([]byte{0xff, 0xff, 0xff, 0x7f, 0})
	path := filepath.Join(f.TempDir(), "oplog.bson")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		var read int
		err := OplogFile(path, oplog.Max)(func(e bson.Raw) error {
			if e.Validate() != nil {
				return fmt.Errorf("entry at %d handed out is not valid BSON", read)
			}
			if _, err := oplog.EntryTS(e); err != nil {
				return fmt.Errorf("entry at %d handed out without a ts: %v", read, err)
			}
			read += len(e)
			return nil
		})
		switch {
		case err != nil && strings.Contains(err.Error(), "handed out"):
			t.Fatal(err)
		case err != nil && (!strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "byte ")):
			t.Fatalf("error does not name the file and the offset: %v", err)
		case err == nil && read != len(data):
			t.Fatalf("clean read of %d of the file's %d bytes", read, len(data))
		}
	})
}
