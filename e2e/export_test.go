package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/internal/workload"
	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/segment"
	"github.com/tidelog/tidelog/store/dirstore"
)

// sourceOplog returns the source's own oplog entries with from < ts <= to,
// in ts order, read straight from local.oplog.rs.
func sourceOplog(t *testing.T, c *mongo.Client, from, to oplog.Timestamp) []bson.Raw {
	t.Helper()
	ctx := context.Background()
	cur, err := c.Database("local").Collection("oplog.rs").Find(ctx, bson.D{})
	must(t, err)
	defer cur.Close(ctx)
	var out []bson.Raw
	for cur.Next(ctx) {
		ts, err := oplog.EntryTS(cur.Current)
		must(t, err)
		if ts.After(from) && !ts.After(to) {
			out = append(out, append(bson.Raw(nil), cur.Current...))
		}
	}
	must(t, cur.Err())
	sort.Slice(out, func(i, j int) bool {
		a, _ := oplog.EntryTS(out[i])
		b, _ := oplog.EntryTS(out[j])
		return a.Before(b)
	})
	return out
}

func sameEntries(t *testing.T, what string, got, want []bson.Raw) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d entries, the source's oplog has %d; %s", what, len(got), len(want), entryDiff(got, want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("%s: entry %d differs:\n got  %s\n want %s", what, i, got[i], want[i])
		}
	}
}

// Export from a store tailerd filled from a live source: the file holds
// exactly the source's oplog entries in (--from, --to], byte for byte, and
// exports chain: applying (start, p0] to an empty server gives the source at
// p0, applying (p0, p2] on top gives the source at p2. A range past what the
// store holds is refused (3), naming the window.
func TestExportMatchesSourceOplog(t *testing.T) {
	ctx := context.Background()
	src := testserver.StartT(t, testserver.Options{})
	client, err := src.Client()
	must(t, err)
	defer client.Disconnect(ctx)

	work := t.TempDir()
	store := filepath.Join(work, "store")
	logPath := filepath.Join(work, "tailerd.log")
	d := startTailerd(t, logPath, "--source", src.URI, "--store", store, "--cut-age", "200ms", "--cut-bytes", "16384")
	w := workload.New(client, 11)
	var points []recorded
	for range 3 {
		must(t, w.Step(ctx, 150))
		ts := lastTS(t, src, client)
		points = append(points, recorded{ts: ts, state: mustDump(t, client)})
	}
	waitRestorable(t, store, logPath, points[2].ts)
	if code := d.stop(t); code != 0 {
		t.Fatalf("tailerd exit %d\n%s", code, logTail(logPath))
	}
	if n := len(list(t, store).Streams[0].Segments); n < 3 {
		t.Errorf("only %d segments: the ranges should span several", n)
	}
	p0, p2 := points[0].ts, points[2].ts

	ranged := filepath.Join(work, "p0-p2.bson")
	code, out, errOut := replayer(t, "export", "--store", store, "--from", p0.String(), "--to", p2.String(), "--out", ranged)
	if code != 0 {
		t.Fatalf("export: exit %d\n%s%s", code, out, errOut)
	}
	t.Log(out)
	sameEntries(t, "export (p0, p2]", readBSONFile(t, ranged), sourceOplog(t, client, p0, p2))

	first := filepath.Join(work, "start-p0.bson")
	if code, out, errOut := replayer(t, "export", "--store", store, "--to", p0.String(), "--out", first); code != 0 {
		t.Fatalf("export from the start: exit %d\n%s%s", code, out, errOut)
	}
	sameEntries(t, "export (start, p0]", readBSONFile(t, first), sourceOplog(t, client, oplog.Timestamp{}, p0))

	target := testserver.StartT(t, testserver.Options{NoOplog: true})
	tc, err := target.Client()
	must(t, err)
	defer tc.Disconnect(ctx)
	for i, step := range []struct {
		file  string
		state workload.State
	}{{first, points[0].state}, {ranged, points[2].state}} {
		if code, out, errOut := replayer(t, "apply", "--oplog-file", step.file, "--target", target.URI); code != 0 {
			t.Fatalf("apply %s: exit %d\n%s%s", step.file, code, out, errOut)
		}
		if diff := workload.Diff(step.state, mustDump(t, tc)); diff != "" {
			t.Errorf("after applying export %d the target differs from the source:\n%s", i, diff)
		}
	}

	beyond := oplog.Timestamp{T: p2.T + 3600}
	code, _, errOut = replayer(t, "export", "--store", store, "--from", p0.String(), "--to", beyond.String(), "--out", filepath.Join(work, "x.bson"))
	if code != 3 || !strings.Contains(errOut, "inclusive") || !strings.Contains(errOut, beyond.String()) {
		t.Errorf("export past the store's end: exit %d, want 3 listing the window\n%s", code, errOut)
	}
	code, _, errOut = replayer(t, "export", "--store", store, "--from", "1000", "--out", filepath.Join(work, "x.bson"))
	if code != 3 {
		t.Errorf("export from before capture: exit %d, want 3\n%s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(work, "x.bson")); !os.IsNotExist(err) {
		t.Errorf("a refused export left its file: %v", err)
	}
}

// writeWindows makes a store of stream rs0 with three segments of 200
// entries each (ts 1700000000.1 to .600); the third starts a new chain when
// breakBefore3 is set, so the store holds two windows. It returns the
// directory, the segment files and the entries.
func writeWindows(t *testing.T, breakBefore3 bool) (string, []string, []bson.Raw) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store")
	st, err := dirstore.Open(dir, true)
	must(t, err)
	w := segment.NewWriter("rs0")
	var prev segment.Link
	var entries []bson.Raw
	var files []string
	ts := uint32(1)
	for s := 0; s < 3; s++ {
		if s == 2 && breakBefore3 {
			prev = segment.Link{}
		}
		w.Start(prev)
		for range 200 {
			e, err := bson.Marshal(bson.D{{Key: "ts", Value: bson.Timestamp{T: 1700000000, I: ts}},
				{Key: "op", Value: "i"}, {Key: "ns", Value: "d.c"}, {Key: "o", Value: bson.D{{Key: "_id", Value: int32(ts)}}}})
			must(t, err)
			must(t, w.Append(e))
			entries = append(entries, e)
			ts++
		}
		info, data, err := w.Finish()
		must(t, err)
		must(t, st.PutSegment(context.Background(), "rs0", info.Name, data))
		prev = info.Link()
		files = append(files, filepath.Join(dir, "streams", "rs0", "segments", info.Name))
	}
	return dir, files, entries
}

// A range that crosses a break in the history is refused (3) with the
// windows listed; a range inside the later window exports. A damaged
// segment in the range aborts the export (4) and leaves no file, while a
// range that does not reach the damage still exports.
func TestExportRefusesGapsAndDamage(t *testing.T) {
	dir, _, entries := writeWindows(t, true)
	outDir := t.TempDir()
	out := filepath.Join(outDir, "oplog.bson")

	code, _, errOut := replayer(t, "export", "--store", dir, "--from", "1700000000.100", "--to", "1700000000.500", "--out", out)
	if code != 3 || !strings.Contains(errOut, "1700000000.1..1700000000.400") || !strings.Contains(errOut, "1700000000.401..1700000000.600") {
		t.Errorf("export across the break: exit %d, want 3 listing both windows\n%s", code, errOut)
	}
	code, _, errOut = replayer(t, "export", "--store", dir, "--to", "1700000000.500", "--out", out)
	if code != 3 {
		t.Errorf("export from the start of capture into the later window: exit %d, want 3\n%s", code, errOut)
	}
	code, stdout, errOut := replayer(t, "export", "--store", dir, "--from", "1700000000.450", "--out", out)
	if code != 0 {
		t.Fatalf("export inside the later window: exit %d\n%s%s", code, stdout, errOut)
	}
	sameEntries(t, "(…450, latest]", readBSONFile(t, out), entries[450:])
	code, stdout, errOut = replayer(t, "export", "--store", dir, "--from", "1700000000.150", "--to", "1700000000.250", "--out", out)
	if code != 0 {
		t.Fatalf("export inside the first window: exit %d\n%s%s", code, stdout, errOut)
	}
	sameEntries(t, "(…150, …250]", readBSONFile(t, out), entries[150:250])
	if !strings.Contains(stdout, "100 entries") || !strings.Contains(stdout, "2 verified segments") {
		t.Errorf("summary:\n%s", stdout)
	}

	dir, files, entries := writeWindows(t, false)
	data, err := os.ReadFile(files[1])
	must(t, err)
	data[len(data)/2] ^= 0xff
	must(t, os.WriteFile(files[1], data, 0o644))
	must(t, os.Remove(out))
	code, _, errOut = replayer(t, "export", "--store", dir, "--out", out)
	if code != 4 || !strings.Contains(errOut, filepath.Base(files[1])) {
		t.Errorf("export over a damaged segment: exit %d, want 4 naming it\n%s", code, errOut)
	}
	if left, err := os.ReadDir(outDir); err != nil || len(left) != 0 {
		t.Errorf("a failed export left %v", left)
	}
	code, stdout, errOut = replayer(t, "export", "--store", dir, "--to", "1700000000.200", "--out", out)
	if code != 0 {
		t.Fatalf("export before the damage: exit %d\n%s%s", code, stdout, errOut)
	}
	sameEntries(t, "(start, …200]", readBSONFile(t, out), entries[:200])

	// Pruned: the first segment left continues a deleted one, so there is no
	// start of capture to export from; an explicit --from still works.
	dir, files, entries = writeWindows(t, false)
	must(t, os.Remove(files[0]))
	must(t, os.Remove(out))
	code, _, errOut = replayer(t, "export", "--store", dir, "--out", out)
	if code != 3 {
		t.Errorf("export from the start of capture of a pruned store: exit %d, want 3\n%s", code, errOut)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("the refused export left a file")
	}
	code, stdout, errOut = replayer(t, "export", "--store", dir, "--from", "1700000000.300", "--out", out)
	if code != 0 {
		t.Fatalf("export from a position of the pruned store: exit %d\n%s%s", code, stdout, errOut)
	}
	sameEntries(t, "(…300, latest]", readBSONFile(t, out), entries[300:])
}

// entryDiff names the entries one list has and the other lacks, by ts.
func entryDiff(got, want []bson.Raw) string {
	count := func(es []bson.Raw) map[string]int {
		m := map[string]int{}
		for _, e := range es {
			ts, _ := oplog.EntryTS(e)
			m[ts.String()]++
		}
		return m
	}
	g, w := count(got), count(want)
	var missing, extra []string
	for ts, n := range w {
		if g[ts] < n {
			missing = append(missing, ts)
		}
	}
	for ts, n := range g {
		if w[ts] < n {
			extra = append(extra, ts)
		}
	}
	slices.Sort(missing)
	slices.Sort(extra)
	return fmt.Sprintf("missing from the store: %v; in the store only: %v", missing, extra)
}
