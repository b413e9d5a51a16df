package dump

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/s2"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// The mongo-tools archive (mongodump 4.1 --archive --oplog of a 4.0.2
// server) reads as its decoded twin says: same header, prelude, and the
// same documents per namespace in the same order.
func TestArchiveFixture(t *testing.T) {
	a, err := OpenArchive(bytes.NewReader(readFile(t, archiveFixture(t))))
	if err != nil {
		t.Fatal(err)
	}
	if a.Header.ServerVersion != "4.0.2" || a.Header.FormatVersion != "0.1" || a.Header.ConcurrentCollections != 4 ||
		a.Header.ToolVersion != "r4.1.3-4-gd9eefb54" {
		t.Errorf("header: %+v", a.Header)
	}
	var names []string
	for _, c := range a.Collections {
		names = append(names, c.Namespace.String())
	}
	if got := strings.Join(names, " "); got != "test.foo .oplog admin.system.version" {
		t.Errorf("prelude namespaces: %s", got)
	}
	foo := a.Collections[0]
	if foo.Metadata == nil || len(foo.Metadata.Indexes) != 1 || foo.Metadata.UUID != "d6b7b0bd5dce41c498aa03f115533254" ||
		foo.Metadata.Indexes[0].Lookup("name").StringValue() != "_id_" || len(foo.Metadata.Options) != 5 {
		t.Errorf("test.foo metadata: %+v", foo.Metadata)
	}
	if a.Collections[1].Metadata != nil || !a.Collections[1].IsOplog() {
		t.Errorf("oplog entry: %+v", a.Collections[1])
	}
	recs, err := drain(a)
	if err != nil {
		t.Fatal(err)
	}

	// The decoded twin: a header line per block, then its documents, then
	// "# --terminator--". Relaxed Extended JSON, one document a line.
	want := decodedArchiveDocs(t, filepath.Join(fixtures(t), "mongo-tools", "_decoded", "mongorestore", "testdata", "dump-w-oplog.archive.jsonl"))
	if len(recs) != len(want) {
		t.Fatalf("%d documents, the decoded twin has %d", len(recs), len(want))
	}
	for i, r := range recs {
		got, err := bson.MarshalExtJSON(r.doc, false, false)
		if err != nil {
			t.Fatal(err)
		}
		if r.ns.String() != want[i].ns || !sameJSON(t, got, []byte(want[i].doc)) {
			t.Errorf("document %d: %s %s\n want %s %s", i, r.ns, got, want[i].ns, want[i].doc)
		}
	}
	counts := countByNS(recs)
	wantCounts := map[string]int{"admin.system.version": 1, "test.foo": 25, ".oplog": 18}
	for ns, n := range wantCounts {
		if counts[ns] != n || a.DocCount(Namespace{DB: strings.Split(ns, ".")[0], Collection: ns[strings.Index(ns, ".")+1:]}) != int64(n) {
			t.Errorf("%s: %d documents, want %d", ns, counts[ns], n)
		}
	}
	t.Logf("documents per namespace: %v", counts)
	// Next after the end keeps saying so.
	if _, _, err := a.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("Next after the end: %v", err)
	}
}

type decodedDoc struct{ ns, doc string }

func decodedArchiveDocs(t *testing.T, path string) []decodedDoc {
	var out []decodedDoc
	lines := jsonlLines(t, path)
	i := 0
	for i < len(lines) && lines[i] != "# --terminator--" { // magic, header, prelude
		i++
	}
	i++
	for i < len(lines) {
		var h struct {
			DB, Collection string
			EOF            bool
		}
		if err := json.Unmarshal([]byte(lines[i]), &h); err != nil {
			t.Fatalf("decoded line %d: %v", i+1, err)
		}
		for i++; i < len(lines) && lines[i] != "# --terminator--"; i++ {
			out = append(out, decodedDoc{h.DB + "." + h.Collection, lines[i]})
		}
		i++
	}
	return out
}

// sameJSON compares two JSON texts as values (key order included, since
// objects decode to ordered token streams here).
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y bytes.Buffer
	if err := json.Compact(&x, a); err != nil {
		t.Fatal(err)
	}
	if err := json.Compact(&y, b); err != nil {
		t.Fatal(err)
	}
	return x.String() == y.String()
}

// The PBM backups' dumps are mongodump archives compressed with S2; every
// namespace's CRC verifies and the per-namespace counts are those of the
// real 4.4.12 cluster.
func TestArchivePBMDumps(t *testing.T) {
	want := map[string]map[string]int{
		"cfg": {"admin.pbmLog": 8221, "config.changelog": 3086, "config.chunks": 1028, "config.actionlog": 514,
			"admin.pbmAgents": 9, "admin.system.version": 2, "admin.system.users": 2, "admin.system.roles": 1},
		"rs1": {"trx.test": 10, "config.cache.chunks.config.system.sessions": 1024, "admin.pbmRUsers": 2, "admin.pbmRRoles": 1, "admin.system.version": 6},
		"rs2": {"trx.test": 4, "config.cache.chunks.config.system.sessions": 1024, "admin.pbmRUsers": 2, "admin.pbmRRoles": 1, "admin.system.version": 5},
	}
	for rs, counts := range want {
		t.Run(rs, func(t *testing.T) {
			f, err := os.Open(filepath.Join(pbmDir(t), "2022-02-09T12.42.32Z_"+rs+".dump.s2"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			a, err := OpenArchive(s2.NewReader(f))
			if err != nil {
				t.Fatal(err)
			}
			if a.Header.ServerVersion != "4.4.12-12" {
				t.Errorf("server version %q", a.Header.ServerVersion)
			}
			recs, err := drain(a)
			if err != nil {
				t.Fatal(err)
			}
			got := countByNS(recs)
			for ns, n := range counts {
				if got[ns] != n {
					t.Errorf("%s: %d documents, want %d", ns, got[ns], n)
				}
			}
			for _, c := range a.Collections {
				if c.Metadata == nil || len(c.Metadata.Indexes) == 0 {
					t.Errorf("%s: no metadata or no indexes", c.Namespace)
				}
			}
			t.Logf("%d collections, %d documents: %v", len(a.Collections), len(recs), got)

			// Cut in the middle, the S2 stream fails and the archive says where.
			half := readFile(t, f.Name())
			half = half[:len(half)/2]
			a, err = OpenArchive(s2.NewReader(bytes.NewReader(half)))
			if err == nil {
				_, err = drain(a)
			}
			var re *ReadError
			if !errors.As(err, &re) {
				t.Fatalf("half of the S2 dump: %v, want a *ReadError", err)
			}
			t.Logf("half of the S2 dump: %v", err)
		})
	}
}

// gzip is recognised by its magic: a gzipped archive reads the same.
func TestArchiveGzip(t *testing.T) {
	raw := readFile(t, archiveFixture(t))
	plain, err := OpenArchive(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	want, err := drain(plain)
	if err != nil {
		t.Fatal(err)
	}
	gz, err := OpenArchive(bytes.NewReader(gzipBytes(t, raw)))
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
}

func gzipBytes(t testing.TB, data []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readAll opens and drains an archive, returning the first error.
func readAll(data []byte) error {
	a, err := OpenArchive(bytes.NewReader(data))
	if err != nil {
		return err
	}
	_, err = drain(a)
	return err
}

// Every proper prefix of an archive is an error (never a shorter complete
// archive), a *ReadError whose offset lies within the prefix.
func TestArchiveTruncated(t *testing.T) {
	raw := readFile(t, archiveFixture(t))
	for n := 0; n < len(raw); n++ {
		err := readAll(raw[:n])
		var re *ReadError
		if !errors.As(err, &re) {
			t.Fatalf("cut at %d: %v, want a *ReadError", n, err)
		}
		if re.Offset < 0 || re.Offset > int64(n) {
			t.Fatalf("cut at %d: error names offset %d: %v", n, re.Offset, err)
		}
	}
	// A gzipped archive cut short fails as well.
	gz := gzipBytes(t, raw)
	for _, n := range []int{0, 1, 10, len(gz) / 2, len(gz) - 1} {
		if err := readAll(gz[:n]); err == nil {
			t.Errorf("gzip cut at %d: no error", n)
		}
	}
	if err := readAll(raw); err != nil {
		t.Fatalf("whole archive: %v", err)
	}
}

// Damage is reported with the offset of what is damaged.
func TestArchiveCorrupted(t *testing.T) {
	raw := readFile(t, archiveFixture(t))
	docs := mustFind(t, raw, []byte("\x1d\x00\x00\x00\x07_id\x00\x5b\xb4\xfd\x0f")) // the first test.foo document
	cases := []struct {
		name   string
		edit   func(b []byte)
		offset int64
		what   string
	}{
		{"bad magic", func(b []byte) { b[0] = 0 }, 0, "magic"},
		{"oversized length", func(b []byte) { copy(b[docs:], []byte{0, 0, 0, 0x40}) }, int64(docs), "claims"},
		{"length too small", func(b []byte) { copy(b[docs:], []byte{3, 0, 0, 0}) }, int64(docs), "claims"},
		{"malformed document", func(b []byte) { b[docs+4] = 0x7f }, int64(docs), "malformed"},
		// A changed value keeps the document valid BSON: the namespace's CRC catches it.
		{"changed value (CRC)", func(b []byte) { b[docs+24]++ }, -1, "CRC mismatch for test.foo"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := append([]byte(nil), raw...)
			tc.edit(b)
			err := readAll(b)
			var re *ReadError
			if !errors.As(err, &re) {
				t.Fatalf("%v, want a *ReadError", err)
			}
			if tc.offset >= 0 && re.Offset != tc.offset || !strings.Contains(err.Error(), tc.what) {
				t.Fatalf("error %q (offset %d), want offset %d and %q", err, re.Offset, tc.offset, tc.what)
			}
			t.Log(err)
		})
	}
	// A terminator where a namespace header is due.
	b := append(append([]byte(nil), raw...), 0xff, 0xff, 0xff, 0xff)
	if err := readAll(b); err == nil || !strings.Contains(err.Error(), "terminator where a namespace header") {
		t.Errorf("extra terminator: %v", err)
	}
	// Data for a namespace after its EOF header.
	b = append(append([]byte(nil), raw...), raw[mustFind(t, raw, []byte("\x39\x00\x00\x00\x02db\x00\x05\x00\x00\x00test")):][:0x39+0x1d+4]...)
	if err := readAll(b); err == nil || !strings.Contains(err.Error(), "after its EOF header") {
		t.Errorf("reopened namespace: %v", err)
	}
}

func mustFind(t *testing.T, data, sub []byte) int {
	t.Helper()
	i := bytes.Index(data, sub)
	if i < 0 {
		t.Fatalf("%x not found", sub)
	}
	return i
}

// Metadata in relaxed or canonical Extended JSON parses; wrong types fail.
func TestParseMetadata(t *testing.T) {
	m, err := ParseMetadata([]byte(`{"options":{"capped":true,"size":{"$numberLong":"1048576"}},"indexes":[{"v":2,"key":{"_id":1},"name":"_id_"}],"uuid":"abc","collectionName":"c","type":"collection"}`))
	if err != nil {
		t.Fatal(err)
	}
	if m.Options.Lookup("size").Int64() != 1048576 || len(m.Indexes) != 1 || m.UUID != "abc" || m.CollectionName != "c" || m.Type != "collection" {
		t.Errorf("%+v", m)
	}
	for _, bad := range []string{`{"options":3}`, `{"indexes":{}}`, `{"indexes":[1]}`, `{"uuid":1}`, `not json`} {
		if _, err := ParseMetadata([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
