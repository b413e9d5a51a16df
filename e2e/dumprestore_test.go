package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/tidelog/tidelog/dump"
	"github.com/tidelog/tidelog/internal/testserver"
)

// checkModel compares every namespace of want with the target (renamed
// through rename, which maps a model namespace to the target's).
func checkModel(t *testing.T, c *mongo.Client, want model, rename func(string) string) {
	t.Helper()
	if len(want) == 0 {
		t.Fatal("the model expects nothing: the fixture is not exercising anything")
	}
	for _, ns := range want.namespaces() {
		got := targetState(t, c, rename(ns))
		if len(got) != len(want[ns]) {
			t.Errorf("%s: %d documents, want %d", rename(ns), len(got), len(want[ns]))
		}
		for id, doc := range want[ns] {
			if got[id] != doc {
				t.Errorf("%s _id %s:\n  got  %s\n  want %s", rename(ns), id, got[id], doc)
			}
		}
	}
}

// noInternalWrites fails if anything landed in admin, config or local, or
// in a system.* collection of the given databases.
func noInternalWrites(t *testing.T, c *mongo.Client, dbs ...string) {
	t.Helper()
	ctx := context.Background()
	for _, db := range []string{"admin", "config", "local"} {
		names, err := c.Database(db).ListCollectionNames(ctx, bson.D{})
		must(t, err)
		if len(names) > 0 {
			t.Errorf("wrote into %s: %v", db, names)
		}
	}
	for _, db := range dbs {
		names, err := c.Database(db).ListCollectionNames(ctx, bson.D{})
		must(t, err)
		for _, n := range names {
			if strings.HasPrefix(n, "system.") {
				t.Errorf("wrote %s.%s", db, n)
			}
		}
	}
}

func same(ns string) string { return ns }

func oplogEntry(t *testing.T, ts bson.Timestamp, op, ns string, o bson.D) []byte {
	b, err := bson.Marshal(bson.D{{Key: "ts", Value: ts}, {Key: "t", Value: int64(1)}, {Key: "v", Value: int64(2)},
		{Key: "op", Value: op}, {Key: "ns", Value: ns}, {Key: "o", Value: o}})
	must(t, err)
	return b
}

// The qa-tests mongodump directory with --oplog (2014: metadata with the old
// flags option, a system.indexes file, five oplog inserts, one past the
// dump's documents) restores to what the dump plus its oplog imply; an
// occupied target is refused (6) and replaced with --drop; --to before the
// dump's consistent point is refused (3); extra oplog files continue it
// (their overlap with the dump's oplog skipped) up to --to; renames apply
// to the base and the oplog alike.
func TestRestoreDumpDirectory(t *testing.T) {
	dir := filepath.Join(fixtures(t), "mongo-tools", "test", "qa-tests", "jstests", "restore", "testdata", "dump_with_oplog")
	want := model{}
	for _, d := range readBSONFile(t, filepath.Join(dir, "test", "data.bson")) {
		want.put("test.data", d)
	}
	dumpOplog := readBSONFile(t, filepath.Join(dir, "oplog.bson"))
	for _, e := range dumpOplog {
		want.apply(t, e)
	}

	target := testserver.StartT(t, testserver.Options{NoOplog: true})
	c, err := target.Client()
	must(t, err)
	defer c.Disconnect(context.Background())
	code, out, errOut := replayer(t, "restore", "--dump", dir, "--target", target.URI)
	if code != 0 {
		t.Fatalf("restore-dump: exit %d\n%s%s", code, out, errOut)
	}
	t.Log(out)
	if !strings.Contains(out, "10 documents") || !strings.Contains(out, "5 entries (consistent from 1500000000.1)") {
		t.Errorf("summary does not say what was loaded and replayed:\n%s", out)
	}
	checkModel(t, c, want, same)
	noInternalWrites(t, c, "test")

	code, _, errOut = replayer(t, "restore-dump", "--dump", dir, "--target", target.URI)
	if code != 6 || !strings.Contains(errOut, "test.data") || !strings.Contains(errOut, "--drop") {
		t.Errorf("restore-dump into an occupied target: exit %d, want 6 naming test.data and --drop\n%s", code, errOut)
	}
	code, out, errOut = replayer(t, "restore-dump", "--dump", dir, "--target", target.URI, "--drop")
	if code != 0 {
		t.Fatalf("restore-dump --drop: exit %d\n%s%s", code, out, errOut)
	}
	checkModel(t, c, want, same)

	fresh := testserver.StartT(t, testserver.Options{NoOplog: true})
	code, _, errOut = replayer(t, "restore-dump", "--dump", dir, "--target", fresh.URI, "--to", "1416342265.3")
	if code != 3 || !strings.Contains(errOut, "1500000000.1") {
		t.Errorf("--to before the dump's consistent point: exit %d, want 3 naming 1500000000.1\n%s", code, errOut)
	}

	// An extra oplog file that overlaps the dump's by one entry, continues
	// it, and goes past --to.
	extra := filepath.Join(t.TempDir(), "more.bson")
	var buf bytes.Buffer
	buf.Write(dumpOplog[len(dumpOplog)-1])
	buf.Write(oplogEntry(t, bson.Timestamp{T: 1500000001, I: 1}, "i", "test.data", bson.D{{Key: "_id", Value: 100.0}, {Key: "x", Value: "new"}}))
	buf.Write(oplogEntry(t, bson.Timestamp{T: 1500000002, I: 1}, "d", "test.data", bson.D{{Key: "_id", Value: 0.0}}))
	buf.Write(oplogEntry(t, bson.Timestamp{T: 1500000003, I: 1}, "i", "test.data", bson.D{{Key: "_id", Value: 101.0}}))
	must(t, os.WriteFile(extra, buf.Bytes(), 0o644))
	for _, e := range readBSONFile(t, extra)[1:3] {
		want.apply(t, e)
	}
	fc, err := fresh.Client()
	must(t, err)
	defer fc.Disconnect(context.Background())

	// A file that starts after the dump's oplog ends cannot be shown to
	// continue it, and one given twice adds nothing: both are refused (3)
	// before anything is written.
	gapped := filepath.Join(t.TempDir(), "gapped.bson")
	var rest bytes.Buffer
	for _, e := range readBSONFile(t, extra)[1:] {
		rest.Write(e)
	}
	must(t, os.WriteFile(gapped, rest.Bytes(), 0o644))
	for _, args := range [][]string{
		{"--oplog-file", gapped},
		{"--oplog-file", extra, "--oplog-file", extra},
	} {
		code, _, errOut = replayer(t, append([]string{"restore-dump", "--dump", dir, "--target", fresh.URI}, args...)...)
		if code != 3 || !strings.Contains(errOut, "--oplog-file") {
			t.Errorf("restore-dump %v: exit %d, want 3 naming the file\n%s", args, code, errOut)
		}
		if names, err := fc.ListDatabaseNames(context.Background(), bson.D{{Key: "name", Value: "test"}}); err != nil || len(names) > 0 {
			t.Errorf("restore-dump %v wrote before refusing: %v %v", args, names, err)
		}
	}

	code, out, errOut = replayer(t, "restore-dump", "--dump", dir, "--oplog-file", extra, "--to", "1500000002.1",
		"--target", fresh.URI, "--ns-from", "test.*", "--ns-to", "staging.*", "--workers", "2")
	if code != 0 {
		t.Fatalf("restore-dump with an extra oplog file: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "1 entries already covered") {
		t.Errorf("summary does not count the overlapping entry:\n%s", out)
	}
	checkModel(t, fc, want, func(ns string) string { return "staging." + strings.TrimPrefix(ns, "test.") })
	if names, err := fc.Database("test").ListCollectionNames(context.Background(), bson.D{}); err != nil || len(names) > 0 {
		t.Errorf("renamed restore wrote into test: %v", names)
	}
	noInternalWrites(t, fc, "staging")
}

// The mongo-tools archive (mongodump 4.1 --archive --oplog of a 4.0.2
// server, whose oplog overlaps the dumped documents), plain and gzipped,
// restores to what its documents and its oplog imply; --gzip on a plain
// archive is refused (2), and a truncated archive (4) before any write.
func TestRestoreDumpArchive(t *testing.T) {
	path := filepath.Join(fixtures(t), "mongo-tools", "mongorestore", "testdata", "dump-w-oplog.archive")
	data, err := os.ReadFile(path)
	must(t, err)
	a, err := dump.OpenArchive(bytes.NewReader(data))
	must(t, err)
	want := model{}
	var oplogEntries []bson.Raw
	must(t, dump.Each(a, func(ns dump.Namespace, doc bson.Raw) error {
		doc = append(bson.Raw(nil), doc...)
		switch {
		case ns.IsOplog():
			oplogEntries = append(oplogEntries, doc)
		case userNS(ns.String()):
			want.put(ns.String(), doc)
		}
		return nil
	}))
	for _, e := range oplogEntries {
		want.apply(t, e)
	}
	dir := t.TempDir()
	gzPath := filepath.Join(dir, "dump.archive.gz")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, err = zw.Write(data)
	must(t, err)
	must(t, zw.Close())
	must(t, os.WriteFile(gzPath, gz.Bytes(), 0o644))

	for _, tc := range []struct {
		name string
		args []string
	}{
		{"plain", []string{"--archive", path}},
		{"gzip", []string{"--archive", gzPath, "--gzip"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := testserver.StartT(t, testserver.Options{NoOplog: true})
			c, err := target.Client()
			must(t, err)
			defer c.Disconnect(context.Background())
			code, out, errOut := replayer(t, append([]string{"restore-dump", "--target", target.URI, "--spool-dir", t.TempDir()}, tc.args...)...)
			if code != 0 {
				t.Fatalf("restore-dump: exit %d\n%s%s", code, out, errOut)
			}
			t.Log(out)
			checkModel(t, c, want, same)
			noInternalWrites(t, c, "test")
		})
	}

	target := testserver.StartT(t, testserver.Options{NoOplog: true})
	if code, _, errOut := replayer(t, "restore-dump", "--target", target.URI, "--archive", path, "--gzip"); code != 2 || !strings.Contains(errOut, "not gzip") {
		t.Errorf("--gzip on a plain archive: exit %d, want 2\n%s", code, errOut)
	}
	truncated := filepath.Join(dir, "truncated.archive")
	must(t, os.WriteFile(truncated, data[:len(data)-200], 0o644))
	code, _, errOut := replayer(t, "restore-dump", "--target", target.URI, "--archive", truncated)
	if code != 4 || !strings.Contains(errOut, "archive") {
		t.Errorf("truncated archive: exit %d, want 4\n%s", code, errOut)
	}
	c, err := target.Client()
	must(t, err)
	defer c.Disconnect(context.Background())
	if dbs, err := c.ListDatabaseNames(context.Background(), bson.D{}); err != nil || len(dbs) > 0 {
		t.Errorf("a refused restore-dump wrote: %v", dbs)
	}
}

// The 5.0 timeseries dump with --oplog (872 $v:2 updates of its buckets)
// onto FerretDB, which has no timeseries collections: restore-dump stops
// before the first document, naming the collection and how to go on; left
// out with --ns-exclude, the buckets load as a plain collection (as replay
// treats them) and every update of the oplog finds its bucket.
func TestRestoreDumpTimeseriesOnFerretDB(t *testing.T) {
	dir := filepath.Join(fixtures(t), "mongo-tools", "mongorestore", "testdata", "timeseries_tests", "ts_dump_with_oplog")
	target := testserver.StartT(t, testserver.Options{NoOplog: true})
	c, err := target.Client()
	must(t, err)
	defer c.Disconnect(context.Background())

	code, out, errOut := replayer(t, "restore-dump", "--dump", dir, "--target", target.URI)
	if code != 1 || !strings.Contains(errOut, "timeseries_test.foo_ts") || !strings.Contains(errOut, "timeseries") || !strings.Contains(errOut, "--ns-exclude") || !strings.Contains(errOut, "--ns-include timeseries_test.system.buckets.foo_ts") {
		t.Fatalf("timeseries onto FerretDB: exit %d, want 1 naming timeseries_test.foo_ts\n%s%s", code, out, errOut)
	}
	if dbs, err := c.ListDatabaseNames(context.Background(), bson.D{}); err != nil || len(dbs) > 0 {
		t.Errorf("a restore refused at create wrote: %v", dbs)
	}

	code, out, errOut = replayer(t, "restore-dump", "--dump", dir, "--target", target.URI, "--ns-include", "timeseries_test.system.buckets.foo_ts")
	if code != 0 {
		t.Fatalf("restore-dump without the timeseries view: exit %d\n%s%s", code, out, errOut)
	}
	t.Log(out)
	buckets := readBSONFile(t, filepath.Join(dir, "timeseries_test", "system.buckets.foo_ts.bson"))
	got := targetState(t, c, "timeseries_test.system.buckets.foo_ts")
	if len(got) != len(buckets) || !strings.Contains(out, "updates 872") || strings.Contains(out, "found no document") {
		t.Errorf("buckets: %d on the target, %d in the dump; summary:\n%s", len(got), len(buckets), out)
	}
}

// A dump taken during writes can hold two documents that break a unique
// index until its oplog is replayed (here _id 1 still has the email _id 2
// took over). The index is built after the oplog, so the restore works and
// the target ends with the index, unique.
func TestRestoreDumpBuildsIndexesAfterItsOplog(t *testing.T) {
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "test"), 0o755))
	var data []byte
	for _, d := range []bson.D{{{Key: "_id", Value: int32(1)}, {Key: "email", Value: "x"}}, {{Key: "_id", Value: int32(2)}, {Key: "email", Value: "x"}}} {
		raw, err := bson.Marshal(d)
		must(t, err)
		data = append(data, raw...)
	}
	must(t, os.WriteFile(filepath.Join(dir, "test", "users.bson"), data, 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "test", "users.metadata.json"), []byte(
		`{"options":{},"indexes":[{"v":2,"key":{"_id":1},"name":"_id_"},{"v":2,"key":{"email":1},"name":"email_1","unique":true}],"type":"collection"}`), 0o644))
	update := bson.D{{Key: "ts", Value: bson.Timestamp{T: 1700000000, I: 1}}, {Key: "op", Value: "u"}, {Key: "ns", Value: "test.users"},
		{Key: "o", Value: bson.D{{Key: "$v", Value: int32(1)}, {Key: "$set", Value: bson.D{{Key: "email", Value: "y"}}}}},
		{Key: "o2", Value: bson.D{{Key: "_id", Value: int32(1)}}}}
	raw, err := bson.Marshal(update)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, "oplog.bson"), raw, 0o644))

	target := testserver.StartT(t, testserver.Options{NoOplog: true})
	code, out, errOut := replayer(t, "restore", "--dump", dir, "--target", target.URI)
	if code != 0 {
		t.Fatalf("restore of a dump with a unique index broken until its oplog: exit %d\n%s%s", code, out, errOut)
	}
	c, err := target.Client()
	must(t, err)
	defer c.Disconnect(context.Background())
	uniqueIndex := func(when string) {
		t.Helper()
		specs, err := c.Database("test").Collection("users").Indexes().ListSpecifications(context.Background())
		must(t, err)
		unique := false
		for _, s := range specs {
			unique = unique || s.Name == "email_1" && s.Unique != nil && *s.Unique
		}
		if !unique {
			t.Errorf("%s: email_1 is not on the target, unique: %+v", when, specs)
		}
	}
	uniqueIndex("restored")

	// A run that stopped during its replay had not built the index yet;
	// the run resumed with --after builds it at its end, without the load.
	must(t, c.Database("test").Collection("users").Indexes().DropOne(context.Background(), "email_1"))
	code, out, errOut = replayer(t, "restore", "--dump", dir, "--target", target.URI, "--after", "1700000000.1")
	if code != 0 || !strings.Contains(out+errOut, "resuming") {
		t.Fatalf("restore --after: exit %d, want 0, resuming\n%s%s", code, out, errOut)
	}
	uniqueIndex("resumed")
}
