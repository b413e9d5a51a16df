package dump

import (
	"bufio"
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// fixtures is ../shared/fixtures beside the repository: real mongodump and
// PBM output (see its README for provenance).
func fixtures(t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "shared", "fixtures")
	if _, err := os.Stat(filepath.Join(dir, "README.md")); err != nil {
		t.Fatalf("shared fixtures not found at %s: %v", dir, err)
	}
	return dir
}

func archiveFixture(t testing.TB) string {
	return filepath.Join(fixtures(t), "mongo-tools", "mongorestore", "testdata", "dump-w-oplog.archive")
}

func pbmDir(t testing.TB) string {
	return filepath.Join(fixtures(t), "percona-backup-mongodb", "e2e-tests", "docker", "backups", "pbm_disttxn_4x")
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// splitBSON splits a file of concatenated BSON documents with no help from
// the package under test.
func splitBSON(t testing.TB, data []byte) []bson.Raw {
	t.Helper()
	var docs []bson.Raw
	for len(data) > 0 {
		if len(data) < 4 {
			t.Fatalf("trailing %d bytes", len(data))
		}
		n := int(binary.LittleEndian.Uint32(data))
		if n < 5 || n > len(data) {
			t.Fatalf("bad document length %d", n)
		}
		docs = append(docs, bson.Raw(data[:n]))
		data = data[n:]
	}
	return docs
}

// jsonlLines returns the lines of a _decoded/ jsonl file.
func jsonlLines(t testing.TB, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// record is one document of a stream, copied.
type record struct {
	ns  Namespace
	doc bson.Raw
}

// drain reads a stream to its end, copying every document.
func drain(s Stream) ([]record, error) {
	var out []record
	err := Each(s, func(ns Namespace, doc bson.Raw) error {
		out = append(out, record{ns, append(bson.Raw(nil), doc...)})
		return nil
	})
	return out, err
}

func countByNS(recs []record) map[string]int {
	m := map[string]int{}
	for _, r := range recs {
		m[r.ns.String()]++
	}
	return m
}
