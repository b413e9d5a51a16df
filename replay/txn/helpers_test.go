package txn

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/oplog"
)

// fixtureDir is the shared fixture tree, relative to this package directory
// (/work/main/replay/txn -> /work/shared/fixtures). A missing tree fails the
// tests: the fixtures are their acceptance criteria.
const fixtureDir = "../../../shared/fixtures"

func fixture(t testing.TB, parts ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{fixtureDir}, parts...)...)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("fixture missing: %v", err)
	}
	return p
}

// readBSONFile returns the documents of a file of concatenated BSON.
func readBSONFile(t testing.TB, path string) []bson.Raw {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var docs []bson.Raw
	for len(data) > 0 {
		if len(data) < 5 {
			t.Fatalf("%s: %d trailing bytes", path, len(data))
		}
		n := int(binary.LittleEndian.Uint32(data))
		if n < 5 || n > len(data) {
			t.Fatalf("%s: bad document length %d", path, n)
		}
		docs = append(docs, bson.Raw(data[:n]))
		data = data[n:]
	}
	return docs
}

// readJSONL returns the documents of a file of extended JSON, one a line.
func readJSONL(t testing.TB, path string) []bson.Raw {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var docs []bson.Raw
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		docs = append(docs, extJSON(t, string(line)))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return docs
}

func extJSON(t testing.TB, s string) bson.Raw {
	t.Helper()
	var r bson.Raw
	if err := bson.UnmarshalExtJSON([]byte(s), false, &r); err != nil {
		t.Fatalf("ext JSON %.80s: %v", s, err)
	}
	return r
}

// step is what one Add produced, with the yielded operations copied.
type step struct {
	act Action
	ops []bson.Raw
}

// feed adds every entry, fails the test on any error, drains each Action and
// checks the contract every yielded operation must meet.
func feed(t testing.TB, b *Buffer, entries []bson.Raw) []step {
	t.Helper()
	ctx := context.Background()
	var steps []step
	for i, e := range entries {
		act, err := b.Add(ctx, e)
		if err != nil {
			t.Fatalf("entry %d: Add: %v", i, err)
		}
		steps = append(steps, step{act: act, ops: drain(t, &act)})
		checkMemBound(t, b)
	}
	return steps
}

// drain collects the operations of act and checks them: Count of them, each
// valid BSON carrying act.TS; inner operations no longer carry h.
func drain(t testing.TB, act *Action) []bson.Raw {
	t.Helper()
	var ops []bson.Raw
	err := act.Ops(context.Background(), func(op bson.Raw) error {
		if err := op.Validate(); err != nil {
			t.Fatalf("%s at %s yielded invalid BSON: %v", act.Kind, act.TS, err)
		}
		ops = append(ops, append(bson.Raw(nil), op...))
		return nil
	})
	if err != nil {
		t.Fatalf("%s at %s: Ops: %v", act.Kind, act.TS, err)
	}
	switch act.Kind {
	case Apply, Commit:
		if len(ops) != act.Count {
			t.Fatalf("%s at %s: Count %d, Ops yielded %d", act.Kind, act.TS, act.Count, len(ops))
		}
	default:
		if len(ops) != 0 {
			t.Fatalf("%s at %s yielded %d operations", act.Kind, act.TS, len(ops))
		}
	}
	for _, op := range ops {
		ts, err := oplog.EntryTS(op)
		if err != nil || ts != act.TS {
			t.Fatalf("%s at %s yielded an op at %v (%v): %s", act.Kind, act.TS, ts, err, op)
		}
		if act.plain == nil {
			if _, err := op.LookupErr("h"); err == nil {
				t.Fatalf("inner op kept its h: %s", op)
			}
		}
	}
	return ops
}

func checkMemBound(t testing.TB, b *Buffer) {
	t.Helper()
	if s := b.Stats(); s.MemBytes > b.maxMem || s.MemBytes < 0 {
		t.Fatalf("memory %d outside [0, %d]", s.MemBytes, b.maxMem)
	}
}

// summary renders operations compactly: "i:0 u:0 d:1" (op and _id), "c:create".
func summary(ops []bson.Raw) string {
	var parts []string
	for _, op := range ops {
		kind := op.Lookup("op").StringValue()
		var id bson.RawValue
		switch kind {
		case "u":
			id = op.Lookup("o2", "_id")
		case "c":
			first, _ := op.Lookup("o").Document().IndexErr(0)
			parts = append(parts, "c:"+first.Key())
			continue
		default:
			id = op.Lookup("o", "_id")
		}
		parts = append(parts, kind+":"+idString(id))
	}
	return strings.Join(parts, " ")
}

func idString(v bson.RawValue) string {
	if n, ok := integer(v); ok {
		return strconv.FormatInt(n, 10)
	}
	if f, ok := v.DoubleOK(); ok {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	if oid, ok := v.ObjectIDOK(); ok {
		return oid.Hex()
	}
	return v.String()
}

func allOps(steps []step) []bson.Raw {
	var ops []bson.Raw
	for _, s := range steps {
		ops = append(ops, s.ops...)
	}
	return ops
}

func kinds(steps []step) string {
	var parts []string
	for _, s := range steps {
		parts = append(parts, s.act.Kind.String())
	}
	return strings.Join(parts, " ")
}

func spillFiles(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, spillPattern))
	if err != nil {
		t.Fatal(err)
	}
	return m
}
