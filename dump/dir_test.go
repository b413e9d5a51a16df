package dump

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func qaDumpDir(t testing.TB) string {
	return filepath.Join(fixtures(t), "mongo-tools", "test", "qa-tests", "jstests", "restore", "testdata", "dump_with_oplog")
}

// The qa-tests directory dump (2014 tools) reads with its metadata, its
// legacy system.indexes file as a namespace of its own, and its oplog.
func TestDirFixture(t *testing.T) {
	dir := qaDumpDir(t)
	d, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.OplogPath != filepath.Join(dir, "oplog.bson") || len(d.Other) != 0 {
		t.Errorf("oplog %q, other %v", d.OplogPath, d.Other)
	}
	if len(d.Collections) != 2 || d.Collections[0].String() != "test.data" || d.Collections[1].String() != "test.system.indexes" {
		t.Fatalf("collections: %+v", d.Collections)
	}
	data := d.Collections[0]
	if data.Metadata == nil || data.Metadata.Options.Lookup("flags").Int32() != 1 || len(data.Metadata.Indexes) != 1 {
		t.Errorf("test.data metadata: %+v", data.Metadata)
	}
	if d.Collections[1].Metadata != nil {
		t.Errorf("system.indexes has no metadata file, got %+v", d.Collections[1].Metadata)
	}
	recs, err := drain(d)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{
		"test.data":           len(splitBSON(t, readFile(t, filepath.Join(dir, "test", "data.bson")))),
		"test.system.indexes": len(splitBSON(t, readFile(t, filepath.Join(dir, "test", "system.indexes.bson")))),
	}
	got := countByNS(recs)
	for ns, n := range want {
		if got[ns] != n {
			t.Errorf("%s: %d documents, want %d", ns, got[ns], n)
		}
	}
	if len(got) != len(want) {
		t.Errorf("namespaces: %v, want %v", got, want)
	}
	t.Logf("documents per namespace: %v", got)

	r, c, err := d.OpenOplog()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	n := 0
	for {
		_, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if want := len(splitBSON(t, readFile(t, d.OplogPath))); n != want {
		t.Errorf("oplog: %d entries, want %d", n, want)
	}
}

// A --gzip dump (every file .gz) yields exactly the same stream.
func TestDirGzip(t *testing.T) {
	src := qaDumpDir(t)
	dst := t.TempDir()
	copyTree(t, src, dst, true)
	if err := os.WriteFile(filepath.Join(dst, "prelude.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	plain, err := OpenDir(src)
	if err != nil {
		t.Fatal(err)
	}
	want, err := drain(plain)
	if err != nil {
		t.Fatal(err)
	}
	gz, err := OpenDir(dst)
	if err != nil {
		t.Fatal(err)
	}
	got, err := drain(gz)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("gzip: %d documents, plain: %d", len(got), len(want))
	}
	for i := range got {
		if got[i].ns != want[i].ns || !bytes.Equal(got[i].doc, want[i].doc) {
			t.Fatalf("document %d differs", i)
		}
	}
	if gz.Collections[0].Metadata == nil || !strings.HasSuffix(gz.Collections[0].MetadataFile, ".metadata.json.gz") {
		t.Errorf("gzipped metadata: %+v", gz.Collections[0])
	}
	if !strings.HasSuffix(gz.OplogPath, "oplog.bson.gz") {
		t.Errorf("oplog: %q", gz.OplogPath)
	}
	if len(gz.Other) != 1 || gz.Other[0] != "prelude.json" {
		t.Errorf("other files: %v (prelude.json must be listed, not ignored)", gz.Other)
	}
	r, c, err := gz.OpenOplog()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := r.Next(); err != nil {
		t.Errorf("gzipped oplog: %v", err)
	}
}

// copyTree copies a dump directory, gzipping every file when gz is set.
func copyTree(t *testing.T, src, dst string, gz bool) {
	t.Helper()
	err := filepath.Walk(src, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data := readFile(t, path)
		if gz {
			data, target = gzipBytes(t, data), target+".gz"
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The 5.0 timeseries dump: the view's metadata and the buckets' data are
// separate namespaces, as they are in the dump; admin.system.* and config.*
// are exposed too (filtering is the caller's job).
func TestDirTimeseries(t *testing.T) {
	dir := filepath.Join(fixtures(t), "mongo-tools", "mongorestore", "testdata", "timeseries_tests", "ts_dump_with_oplog")
	d, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range d.Collections {
		names = append(names, c.String())
		if c.Collection == "foo_ts" && (c.Metadata == nil || c.Metadata.Type != "timeseries" || c.DataFile != "") {
			t.Errorf("foo_ts: %+v", c)
		}
	}
	want := []string{"admin.system.version", "admin.system.views", "config.external_validation_keys",
		"config.tenantMigrationDonors", "config.tenantMigrationRecipients", "timeseries_test.foo_ts", "timeseries_test.system.buckets.foo_ts"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("collections %v, want %v", names, want)
	}
	recs, err := drain(d)
	if err != nil {
		t.Fatal(err)
	}
	got := countByNS(recs)
	for _, c := range d.Collections {
		if c.DataFile == "" {
			continue
		}
		if n := len(splitBSON(t, readFile(t, c.DataFile))); got[c.String()] != n {
			t.Errorf("%s: %d documents, want %d", c, got[c.String()], n)
		}
	}
	t.Logf("documents per namespace: %v", got)
}

// A damaged data file is an error naming the file and the offset; so is a
// damaged metadata file, and an ambiguous pair of files.
func TestDirDamaged(t *testing.T) {
	src := qaDumpDir(t)
	data := readFile(t, filepath.Join(src, "test", "data.bson"))
	docs := splitBSON(t, data)
	second := len(docs[0])

	t.Run("truncated data", func(t *testing.T) {
		dst := t.TempDir()
		copyTree(t, src, dst, false)
		file := filepath.Join(dst, "test", "data.bson")
		if err := os.WriteFile(file, data[:second+7], 0o644); err != nil {
			t.Fatal(err)
		}
		d, err := OpenDir(dst)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := drain(d)
		var re *ReadError
		if !errors.As(err, &re) || re.Source != file || re.Offset != int64(second) || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("error %v, want a truncation of %s at %d", err, file, second)
		}
		if len(recs) != 1 {
			t.Errorf("%d documents before the damage, want 1", len(recs))
		}
		if _, _, again := d.Next(); again != err {
			t.Errorf("Next after an error: %v", again)
		}
		t.Log(err)
	})
	t.Run("truncated gzip", func(t *testing.T) {
		dst := t.TempDir()
		copyTree(t, src, dst, true)
		file := filepath.Join(dst, "test", "data.bson.gz")
		gz := readFile(t, file)
		if err := os.WriteFile(file, gz[:len(gz)-6], 0o644); err != nil {
			t.Fatal(err)
		}
		d, err := OpenDir(dst)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := drain(d); err == nil || !strings.Contains(err.Error(), file) {
			t.Fatalf("error %v, want one naming %s", err, file)
		}
	})
	t.Run("bad metadata", func(t *testing.T) {
		dst := t.TempDir()
		copyTree(t, src, dst, false)
		if err := os.WriteFile(filepath.Join(dst, "test", "data.metadata.json"), []byte(`{"indexes": 5}`), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := OpenDir(dst); err == nil || !strings.Contains(err.Error(), "data.metadata.json") {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("plain and gzip", func(t *testing.T) {
		dst := t.TempDir()
		copyTree(t, src, dst, false)
		if err := os.WriteFile(filepath.Join(dst, "test", "data.bson.gz"), gzipBytes(t, data), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := OpenDir(dst); err == nil || !strings.Contains(err.Error(), "two data files") {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("not a directory", func(t *testing.T) {
		if _, err := OpenDir(filepath.Join(src, "oplog.bson")); err == nil {
			t.Fatal("no error")
		}
	})
	t.Run("stray files listed", func(t *testing.T) {
		dst := t.TempDir()
		copyTree(t, src, dst, false)
		for _, f := range []string{"notes.txt", "test/readme"} {
			if err := os.WriteFile(filepath.Join(dst, f), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		d, err := OpenDir(dst)
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(d.Other)
		if strings.Join(d.Other, " ") != "notes.txt "+filepath.Join("test", "readme") {
			t.Errorf("other: %v", d.Other)
		}
	})
}

// Names are unescaped from file names, and the metadata's collectionName
// (written by newer tools, whose file names may be truncated) wins.
func TestDirNames(t *testing.T) {
	dst := t.TempDir()
	db := filepath.Join(dst, "my%2Fdb")
	if err := os.MkdirAll(db, 0o755); err != nil {
		t.Fatal(err)
	}
	doc, err := bson.Marshal(bson.D{{Key: "_id", Value: 1}})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"a%2Fb.bson":               doc,
		"long%24abc.bson":          doc,
		"long%24abc.metadata.json": []byte(`{"options":{},"indexes":[],"collectionName":"a.very.long.name"}`),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(db, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d, err := OpenDir(dst)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := drain(d)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, r.ns.String())
	}
	if strings.Join(got, " ") != "my/db.a.very.long.name my/db.a/b" {
		t.Errorf("namespaces %v", got)
	}
}
