package load

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/dump"
	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/replay"
)

// readBSON returns the documents of a file of concatenated BSON.
func readBSON(t *testing.T, path string) []bson.Raw {
	t.Helper()
	f, err := os.Open(path)
	must(t, err)
	defer f.Close()
	r := dump.NewBSONReader(f, path)
	var out []bson.Raw
	for {
		doc, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		must(t, err)
		out = append(out, append(bson.Raw(nil), doc...))
	}
}

func drainSource(t *testing.T, src func(func(bson.Raw) error) error) []bson.Raw {
	t.Helper()
	var out []bson.Raw
	must(t, src(func(e bson.Raw) error {
		out = append(out, append(bson.Raw(nil), e...))
		return nil
	}))
	return out
}

// The 2014 qa-tests dump: test.data with its metadata (and the old
// system.indexes, which is not loaded), and an oplog of five inserts.
func TestFromDirFixture(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(fixtures(t), "mongo-tools", "test", "qa-tests", "jstests", "restore", "testdata", "dump_with_oplog")
	d, err := FromDir(ctx, dir, testLog(t))
	must(t, err)
	defer d.Close()
	if d.OplogEntries != 5 || d.OplogEnd != (oplog.Timestamp{T: 1500000000, I: 1}) || !d.HasOplog() {
		t.Errorf("oplog: %d entries ending %s", d.OplogEntries, d.OplogEnd)
	}
	want := readBSON(t, filepath.Join(dir, "oplog.bson"))
	if got := drainSource(t, d.Oplog(ctx, oplog.Max)); len(got) != 5 || !bytes.Equal(got[4], want[4]) {
		t.Errorf("oplog source: %d entries", len(got))
	}
	if got := drainSource(t, d.Oplog(ctx, oplog.Timestamp{T: 1416342265, I: 3})); len(got) != 2 {
		t.Errorf("oplog through 1416342265.3: %d entries, want 2", len(got))
	}

	c := target(t)
	stats, err := Load(ctx, c, d.Collections, Options{}, testLog(t))
	must(t, err)
	sameDocs(t, "test.data", docsOf(t, c, "test", "data"), readBSON(t, filepath.Join(dir, "test", "data.bson")))
	if names := collections(t, c, "test"); strings.Join(names, " ") != "data" {
		t.Errorf("test holds %v (system.indexes is not user data)", names)
	}
	if stats.LeftOut != 1 || stats.Docs != 10 {
		t.Errorf("stats %+v", stats)
	}
}

// The mongo-tools archive (4.0.2, --oplog), plain and gzipped: test.foo is
// loaded from the spool, admin.system.version is not even spooled, the
// oplog reads back whole, and Close removes the spool.
func TestFromArchiveFixture(t *testing.T) {
	ctx := context.Background()
	data, err := os.ReadFile(filepath.Join(fixtures(t), "mongo-tools", "mongorestore", "testdata", "dump-w-oplog.archive"))
	must(t, err)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, err = zw.Write(data)
	must(t, err)
	must(t, zw.Close())

	for name, input := range map[string][]byte{"plain": data, "gzip": gz.Bytes()} {
		t.Run(name, func(t *testing.T) {
			spoolDir := t.TempDir()
			d, err := FromArchive(ctx, bytes.NewReader(input), spoolDir, testLog(t))
			must(t, err)
			if d.OplogEntries != 18 || !d.HasOplog() {
				t.Errorf("oplog: %d entries", d.OplogEntries)
			}
			var foo []bson.Raw
			var names []string
			for _, coll := range d.Collections {
				names = append(names, coll.DB+"."+coll.Name)
				if coll.DB+"."+coll.Name == "test.foo" {
					foo = drainSource(t, func(fn func(bson.Raw) error) error { return coll.Docs(ctx, fn) })
				} else if coll.Docs != nil {
					t.Errorf("%s.%s was spooled", coll.DB, coll.Name)
				}
			}
			if strings.Join(names, " ") != "test.foo admin.system.version" || len(foo) != 25 {
				t.Errorf("collections %v, test.foo has %d documents", names, len(foo))
			}
			entries := drainSource(t, d.Oplog(ctx, oplog.Max))
			if len(entries) != 18 {
				t.Errorf("oplog source: %d entries", len(entries))
			}
			c := target(t)
			_, err = Load(ctx, c, d.Collections, Options{}, testLog(t))
			must(t, err)
			sameDocs(t, "test.foo", docsOf(t, c, "test", "foo"), foo)
			must(t, d.Close())
			if left, _ := os.ReadDir(spoolDir); len(left) != 0 {
				t.Errorf("spool left behind: %v", left)
			}
		})
	}

	// A truncated archive fails while spooling, before any write, and
	// leaves no spool.
	spoolDir := t.TempDir()
	if _, err := FromArchive(ctx, bytes.NewReader(data[:len(data)-100]), spoolDir, testLog(t)); err == nil {
		t.Error("a truncated archive opened")
	}
	if left, _ := os.ReadDir(spoolDir); len(left) != 0 {
		t.Errorf("spool left behind: %v", left)
	}
}

// The 5.0 timeseries dump (a timeseries collection, its buckets, indexes on
// it) needs timeseries support: on FerretDB the load names the collection.
func TestFromDirTimeseriesOnFerretDB(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(fixtures(t), "mongo-tools", "mongorestore", "testdata", "timeseries_tests", "ts_dump_with_oplog")
	d, err := FromDir(ctx, dir, testLog(t))
	must(t, err)
	p, err := newPlan(ctx, d.Collections, Options{}, testLog(t))
	must(t, err)
	if len(p.jobs) != 1 { // timeseries_test.foo_ts with its buckets; admin.system.views is empty
		var got []string
		for _, j := range p.jobs {
			got = append(got, j.ns())
		}
		t.Fatalf("jobs %v", got)
	}
	var ts *job
	for _, j := range p.jobs {
		if j.ns() == "timeseries_test.foo_ts" {
			ts = j
		}
	}
	if ts == nil || ts.kind != TypeTimeseries || ts.dataName != "system.buckets.foo_ts" || len(ts.docs) != 1 || len(ts.indexes) != 2 {
		t.Fatalf("timeseries job %+v", ts)
	}
	// Excluding the timeseries collection excludes its data.
	ns, err := replay.NewNamespaces(nil, []string{"timeseries_test.foo_ts"}, nil, nil)
	must(t, err)
	p, err = newPlan(ctx, d.Collections, Options{Namespaces: ns}, testLog(t))
	must(t, err)
	if len(p.jobs) != 0 {
		t.Fatalf("plan excluding the timeseries collection: %v", p.namespaces())
	}
	// Selecting only its buckets loads them as a plain collection.
	ns, err = replay.NewNamespaces([]string{"timeseries_test.system.buckets.foo_ts"}, nil, nil, nil)
	must(t, err)
	p, err = newPlan(ctx, d.Collections, Options{Namespaces: ns}, testLog(t))
	must(t, err)
	if len(p.jobs) != 1 || p.jobs[0].ns() != "timeseries_test.system.buckets.foo_ts" || p.jobs[0].kind != TypeCollection || len(p.jobs[0].docs) != 1 {
		t.Fatalf("plan of the buckets alone: %v", p.namespaces())
	}

	c := target(t)
	_, err = Load(ctx, c, d.Collections, Options{}, testLog(t))
	var ue *UnsupportedError
	if !errors.As(err, &ue) || ue.NS != "timeseries_test.foo_ts" || !strings.Contains(err.Error(), "timeseries") {
		t.Fatalf("error %v, want an UnsupportedError naming timeseries_test.foo_ts", err)
	}
	if names := collections(t, c, "timeseries_test"); len(names) > 0 {
		t.Errorf("wrote %v", names)
	}
}

// A collection whose .bson file is missing is a damaged dump, not an empty
// collection; a view needs none.
func TestFromDirMissingDataFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "test"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, "test", name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("v.metadata.json", `{"options":{"viewOn":"data","pipeline":[]},"indexes":[],"type":"view"}`)
	if _, err := FromDir(context.Background(), dir, testLog(t)); err != nil {
		t.Fatalf("a view without data: %v", err)
	}
	write("data.metadata.json", `{"options":{},"indexes":[{"v":2,"key":{"_id":1},"name":"_id_"}],"type":"collection"}`)
	_, err := FromDir(context.Background(), dir, testLog(t))
	var re *dump.ReadError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "test.data") {
		t.Fatalf("a collection without its .bson: %v, want a ReadError naming test.data", err)
	}
}
