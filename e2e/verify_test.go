package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/segment"
	"github.com/tidelog/tidelog/store/dirstore"
)

// writeStore makes a store of n chained segments of stream rs0 and returns
// its directory and the segment files' paths.
func writeStore(t *testing.T, n int) (string, []string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store")
	st, err := dirstore.Open(dir, true)
	must(t, err)
	w := segment.NewWriter("rs0")
	var prev segment.Link
	var names []string
	ts := uint32(1)
	for s := 0; s < n; s++ {
		w.Start(prev)
		for i := 0; i < 200; i++ {
			entry, err := bson.Marshal(bson.D{
				{Key: "ts", Value: bson.Timestamp{T: 1700000000, I: ts}},
				{Key: "op", Value: "i"}, {Key: "ns", Value: "d.c"},
				{Key: "o", Value: bson.D{{Key: "_id", Value: int32(ts)}, {Key: "v", Value: strings.Repeat("x", int(ts%50))}}},
			})
			must(t, err)
			must(t, w.Append(entry))
			ts++
		}
		info, data, err := w.Finish()
		must(t, err)
		must(t, st.PutSegment(context.Background(), "rs0", info.Name, data))
		prev = info.Link()
		names = append(names, info.Name)
	}
	files, err := filepath.Glob(filepath.Join(dir, "streams", "rs0", "segments", "*.tseg"))
	must(t, err)
	if len(files) != n {
		t.Fatalf("store layout: found %d segment files, want %d", len(files), n)
	}
	return dir, files
}

func TestVerifyDetectsDamage(t *testing.T) {
	dir, _ := writeStore(t, 3)
	if code, out, errOut := replayer(t, "verify", "--store", dir); code != 0 || !strings.Contains(out, "OK: 1 streams, 3 segments, 600 entries") {
		t.Fatalf("verify of an intact store: exit %d\n%s%s", code, out, errOut)
	}

	damage := map[string]func(t *testing.T, path string){
		"flipped byte": func(t *testing.T, path string) {
			data, err := os.ReadFile(path)
			must(t, err)
			data[len(data)/2] ^= 0x10
			must(t, os.WriteFile(path, data, 0o644))
		},
		"truncated": func(t *testing.T, path string) {
			info, err := os.Stat(path)
			must(t, err)
			must(t, os.Truncate(path, info.Size()-7))
		},
		"deleted": func(t *testing.T, path string) {
			must(t, os.Remove(path))
		},
	}
	for name, harm := range damage {
		t.Run(name, func(t *testing.T) {
			dir, files := writeStore(t, 3)
			victim := files[1]
			harm(t, victim)
			code, out, errOut := replayer(t, "verify", "--store", dir)
			if code != 4 {
				t.Fatalf("verify: exit %d, want 4\n%s%s", code, out, errOut)
			}
			// The report names the damaged segment (or, once it is gone, the one that no longer links).
			named := strings.Contains(out, filepath.Base(victim)) || (name == "deleted" && strings.Contains(out, filepath.Base(files[2])))
			if !named || !strings.Contains(out, "PROBLEM") {
				t.Errorf("report does not name the damaged segment %s:\n%s", filepath.Base(victim), out)
			}
		})
	}
}
