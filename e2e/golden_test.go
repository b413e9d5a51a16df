package e2e

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/tidelog/tidelog/dump"
	"github.com/tidelog/tidelog/internal/testserver"
)

// fixtures is ../shared/fixtures beside the repository: oplogs and base dumps
// captured from real mongod servers (see its README for provenance).
func fixtures(t *testing.T) string {
	dir := filepath.Join(testserver.RepoRoot(), "..", "shared", "fixtures")
	if _, err := os.Stat(filepath.Join(dir, "README.md")); err != nil {
		t.Fatalf("shared fixtures not found at %s: %v", dir, err)
	}
	return dir
}

// readBSONFile returns the documents of a file of concatenated BSON.
func readBSONFile(t *testing.T, path string) []bson.Raw {
	t.Helper()
	f, err := os.Open(path)
	must(t, err)
	defer f.Close()
	r := dump.NewBSONReader(f, path)
	var docs []bson.Raw
	for {
		doc, err := r.Next()
		if errors.Is(err, io.EOF) {
			return docs
		}
		must(t, err)
		docs = append(docs, append(bson.Raw(nil), doc...))
	}
}

// model is an independent, deliberately simple account of what a base dump
// plus an oplog of inserts, deletes, creates and drops leaves behind, used
// as the expected result. It keeps only user namespaces.
type model map[string]map[string]string // ns -> _id (ext JSON) -> document (ext JSON)

func userNS(ns string) bool {
	db, coll, _ := strings.Cut(ns, ".")
	return db != "local" && db != "config" && db != "admin" && !strings.HasPrefix(coll, "system.") && !strings.HasSuffix(ns, ".$cmd")
}

func (m model) put(ns string, doc bson.Raw) {
	if m[ns] == nil {
		m[ns] = map[string]string{}
	}
	m[ns][doc.Lookup("_id").String()] = doc.String()
}

func (m model) apply(t *testing.T, e bson.Raw) {
	ns := e.Lookup("ns").StringValue()
	o := e.Lookup("o").Document()
	switch e.Lookup("op").StringValue() {
	case "i":
		if userNS(ns) {
			m.put(ns, o)
		}
	case "d":
		if userNS(ns) {
			delete(m[ns], o.Lookup("_id").String())
		}
	case "c":
		db, _, _ := strings.Cut(ns, ".")
		first := o.Index(0)
		name, _ := first.Value().StringValueOK()
		switch first.Key() {
		case "create":
			if userNS(db+"."+name) && m[db+"."+name] == nil {
				m[db+"."+name] = map[string]string{}
			}
		case "drop":
			delete(m, db+"."+name)
		default:
			t.Fatalf("model: command %s not modelled", first.Key())
		}
	case "n":
	default:
		t.Fatalf("model: op %s not modelled", e.Lookup("op").StringValue())
	}
}

func (m model) namespaces() []string {
	var out []string
	for ns := range m {
		out = append(out, ns)
	}
	sort.Strings(out)
	return out
}

func targetState(t *testing.T, c *mongo.Client, ns string) map[string]string {
	t.Helper()
	db, coll, _ := strings.Cut(ns, ".")
	cur, err := c.Database(db).Collection(coll).Find(context.Background(), bson.D{})
	must(t, err)
	got := map[string]string{}
	for cur.Next(context.Background()) {
		got[cur.Current.Lookup("_id").String()] = cur.Current.String()
	}
	must(t, cur.Err())
	return got
}

// Real oplogs (and the dumps they continue) applied with `replayer apply`
// give the documents the dump and the oplog imply.
func TestApplyRealOplogFixtures(t *testing.T) {
	fx := fixtures(t)
	mt := filepath.Join(fx, "mongo-tools")
	cases := []struct {
		name  string
		oplog string
		base  map[string]string // namespace -> base dump file
	}{
		{"dump_with_oplog (qa-tests, 2014)", "test/qa-tests/jstests/restore/testdata/dump_with_oplog/oplog.bson",
			map[string]string{"test.data": "test/qa-tests/jstests/restore/testdata/dump_with_oplog/test/data.bson"}},
		{"oplog_partial_skips (4.2, config.* and sessions to leave out)", "mongorestore/testdata/oplog_partial_skips/oplog.bson",
			map[string]string{"db3.c1": "mongorestore/testdata/oplog_partial_skips/db3/c1.bson"}},
		{"duplicate_index_key_with_oplog (4.4, delete then insert)", "mongorestore/testdata/duplicate_index_key_with_oplog/oplog.bson",
			map[string]string{"test.foo": "mongorestore/testdata/duplicate_index_key_with_oplog/test/foo.bson"}},
		{"dump_with_noop_in_oplog (no-ops and create)", "mongorestore/testdata/dump_with_noop_in_oplog/oplog.bson", nil},
		{"dump_oplog_conflict", "mongorestore/testdata/dump_oplog_conflict/oplog.bson", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			target := testserver.StartT(t, testserver.Options{NoOplog: true})
			c, err := target.Client()
			must(t, err)
			defer c.Disconnect(ctx)

			want := model{}
			for ns, file := range tc.base {
				docs := readBSONFile(t, filepath.Join(mt, file))
				db, coll, _ := strings.Cut(ns, ".")
				batch := make([]any, len(docs))
				for i, d := range docs {
					batch[i] = d
					want.put(ns, d)
				}
				if len(batch) > 0 {
					_, err := c.Database(db).Collection(coll).InsertMany(ctx, batch)
					must(t, err)
				}
			}
			oplogPath := filepath.Join(mt, tc.oplog)
			for _, e := range readBSONFile(t, oplogPath) {
				want.apply(t, e)
			}

			code, out, errOut := replayer(t, "apply", "--oplog-file", oplogPath, "--target", target.URI)
			if code != 0 {
				t.Fatalf("replayer apply: exit %d\n%s%s", code, out, errOut)
			}
			checkModel(t, c, want, same)
			// Nothing outside the user namespaces was written.
			noInternalWrites(t, c)
		})
	}
}
