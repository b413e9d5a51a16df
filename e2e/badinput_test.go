package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tidelog/tidelog/checkpoint"
	"github.com/tidelog/tidelog/internal/pebbledir"
	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/segment"
	"github.com/tidelog/tidelog/snapshot"
	tidestore "github.com/tidelog/tidelog/store"
	"github.com/tidelog/tidelog/store/dirstore"
)

// Each kind of bad input gets its own exit code and a message that says what
// is wrong, without a server having to exist.
func TestBadInputGetsClearErrors(t *testing.T) {
	dir := t.TempDir()
	notStore := filepath.Join(dir, "not-a-store")
	must(t, os.MkdirAll(notStore, 0o755))
	must(t, os.WriteFile(filepath.Join(notStore, "vacation.jpg"), []byte("not segments"), 0o644))
	badCkpt := filepath.Join(dir, "bad-checkpoint")
	must(t, os.MkdirAll(badCkpt, 0o755))
	must(t, os.WriteFile(filepath.Join(badCkpt, "CURRENT"), []byte("garbage\x00\x01"), 0o644))
	must(t, os.WriteFile(filepath.Join(badCkpt, "MANIFEST-000001"), []byte("garbage"), 0o644))
	store := filepath.Join(dir, "store")
	if _, err := dirstore.Open(store, true); err != nil {
		t.Fatal(err)
	}
	unreachable := "mongodb://127.0.0.1:1/?directConnection=true"

	tailerd := []struct {
		name string
		args []string
		code int
		says string
	}{
		{"no source", []string{"--store", store}, 2, "--source is required"},
		{"bad URI", []string{"--source", "mongo://nope", "--store", store}, 2, "not a valid MongoDB URI"},
		{"bad flag value", []string{"--source", unreachable, "--store", store, "--cut-age", "-5s"}, 2, "--cut-age"},
		{"bad start", []string{"--source", unreachable, "--store", store, "--start", "yesterday"}, 2, "start position"},
		{"unreachable source", []string{"--source", unreachable, "--store", store, "--connect-timeout", "1s"}, 4, "source"},
		{"not a store", []string{"--source", unreachable, "--store", notStore}, 5, "not a tidelog store"},
		{"corrupt checkpoint", []string{"--source", unreachable, "--store", store, "--checkpoint", badCkpt}, 6, "checkpoint"},
	}
	for _, tc := range tailerd {
		t.Run("tailerd "+tc.name, func(t *testing.T) {
			logPath := filepath.Join(t.TempDir(), "log")
			d := startTailerd(t, logPath, tc.args...)
			code := d.wait(t, 60*time.Second)
			out, _ := os.ReadFile(logPath)
			if code != tc.code || !strings.Contains(string(out), tc.says) {
				t.Errorf("exit %d, want %d with %q in:\n%s", code, tc.code, tc.says, out)
			}
		})
	}

	replayerCases := []struct {
		name string
		args []string
		code int
		says string
	}{
		{"no command", nil, 2, "usage"},
		{"unknown command", []string{"frobnicate"}, 2, "unknown command"},
		{"bad --to", []string{"restore", "--store", store, "--target", unreachable, "--to", "noon"}, 2, "want T.I"},
		{"no target", []string{"restore", "--store", store}, 2, "--target is required"},
		{"--after with --drop", []string{"apply", "--oplog-file", store, "--target", unreachable, "--after", "1.1", "--drop"}, 2, "use one or the other"},
		{"bad --after", []string{"apply", "--oplog-file", store, "--target", unreachable, "--after", "soon"}, 2, "--after"},
		{"list a non-store", []string{"list", "--store", notStore}, 5, "not a tidelog store"},
		{"verify a missing store", []string{"verify", "--store", filepath.Join(dir, "missing")}, 5, "tidelog"},
		{"unreachable target", []string{"restore", "--store", store, "--target", unreachable, "--connect-timeout", "1s"}, 7, "target unreachable"},
	}
	for _, tc := range replayerCases {
		t.Run("replayer "+tc.name, func(t *testing.T) {
			code, out, errOut := replayer(t, tc.args...)
			if code != tc.code || !strings.Contains(out+errOut, tc.says) {
				t.Errorf("exit %d, want %d with %q in:\n%s%s", code, tc.code, tc.says, out, errOut)
			}
		})
	}
}

// A config file or flag with a nonsense value is refused before anything is
// opened (exit 2), with a message that names the setting (and for a config
// file its line) and says what it should be.
func TestBadSettingsGetClearErrors(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	unreachable := "mongodb://127.0.0.1:1/?directConnection=true"
	config := func(name, body string) string {
		p := filepath.Join(dir, name+".yaml")
		must(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	base := "source: " + unreachable + "\nstore: " + store + "\n"
	future := fmt.Sprint(time.Now().Add(48*time.Hour).Unix()) + ".1"

	tailerd := []struct {
		name string
		args []string
		says []string
	}{
		{"YAML syntax", []string{"--config", config("syntax", base+"cut_age: 5s\n  prune: true\n")}, []string{"syntax.yaml", "not valid YAML", "line 4"}},
		{"unknown key", []string{"--config", config("unknown", "# comment\n\n"+base+"\n\ncut_agee: 5s\n")}, []string{"line 7", "unknown key cut_agee", "did you mean cut_age"}},
		{"wrong type", []string{"--config", config("type", base+"cut_bytes: lots\n")}, []string{"line 3", "cut_bytes", `"lots" is not a whole number`}},
		{"bad duration", []string{"--config", config("dur", base+"snapshot_every: daily\n")}, []string{"line 3", "snapshot_every", "is not a duration"}},
		{"duration without unit", []string{"--config", config("bare", base+"keep_for: 86400\n")}, []string{"line 3", "keep_for", "needs a unit", "86400s"}},
		{"key twice", []string{"--config", config("twice", base+"store: /elsewhere\n")}, []string{"line 3", "store given twice", "first at line 2"}},
		{"list where a value goes", []string{"--config", config("list", base+"cursor: [poll]\n")}, []string{"line 3", "cursor", "want a string, not a list"}},
		{"unset variable", []string{"--config", config("env", base+"checkpoint: ${TIDELOG_E2E_UNSET}\n")}, []string{"line 3", "TIDELOG_E2E_UNSET is not set"}},
		{"nonsense value in the file", []string{"--config", config("value", base+"cut_age: 1ns\n")}, []string{"cut_age (in config", "value.yaml", "want 100ms to 24h"}},
		{"source URI garbage", []string{"--source", "mongodb://h:notaport/", "--store", store}, []string{"not a valid MongoDB URI", "port must be an integer"}},
		{"source not mongodb", []string{"--source", "http://db:27017", "--store", store}, []string{"not a valid MongoDB URI", `scheme must be "mongodb"`}},
		{"store scheme typo", []string{"--source", unreachable, "--store", "s3:bucket/prefix"}, []string{"--store", "looks like a URL without '//'"}},
		{"store bucket", []string{"--source", unreachable, "--store", "s3://x"}, []string{"--store", `bucket "x"`, "3 to 63"}},
		{"store broker", []string{"--source", unreachable, "--store", "kafka://k1/tl"}, []string{"--store", `broker "k1": want HOST:PORT`}},
		{"publish-to location", []string{"--source", unreachable, "--store", store, "--spool", filepath.Join(dir, "spool"), "--publish-to", "b=gs://x"}, []string{"--publish-to b", `unknown scheme "gs"`}},
		{"cut-bytes zero", []string{"--source", unreachable, "--store", store, "--cut-bytes", "0"}, []string{"--cut-bytes 0", "want 1 byte to 1 GiB"}},
		{"cut-bytes over the maximum", []string{"--source", unreachable, "--store", store, "--cut-bytes", "2147483648"}, []string{"--cut-bytes 2147483648", "1 GiB"}},
		{"cut-age zero", []string{"--source", unreachable, "--store", store, "--cut-age", "0s"}, []string{"--cut-age 0s", "want 100ms to 24h"}},
		{"spool max tiny", []string{"--source", unreachable, "--store", store, "--spool", filepath.Join(dir, "spool"), "--publish-to", "b=" + filepath.Join(dir, "b"),
			"--spool-max-bytes", "10"}, []string{"--spool-max-bytes 10", "at least 1 MiB"}},
		{"snapshot every 1ns", []string{"--source", unreachable, "--store", store, "--snapshot-every", "1ns"}, []string{"--snapshot-every 1ns", "at least 1s"}},
		{"keep negative", []string{"--source", unreachable, "--store", store, "--keep-snapshots", "-1"}, []string{"--keep-snapshots -1", "0 (no count rule) or more"}},
		{"keep-for 1ns", []string{"--source", unreachable, "--store", store, "--keep-for", "1ns"}, []string{"--keep-for 1ns", "at least 1s"}},
		{"poll settle huge", []string{"--source", unreachable, "--store", store, "--poll-settle", "1h"}, []string{"--poll-settle 1h0m0s", "want 50ms to 1m"}},
		{"discover every 1ns", []string{"--source", unreachable, "--store", store, "--discover-every", "1ns"}, []string{"--discover-every 1ns", "at least 100ms"}},
		{"snapshot workers zero", []string{"--source", unreachable, "--store", store, "--snapshot-workers", "0"}, []string{"--snapshot-workers 0", "want 1 to 64"}},
		{"connect timeout zero", []string{"--source", unreachable, "--store", store, "--connect-timeout", "0s"}, []string{"--connect-timeout 0s", "1ms to 1h"}},
		{"port out of range", []string{"--source", unreachable, "--store", store, "--http-addr", "127.0.0.1:99999"}, []string{"--http-addr", "127.0.0.1:99999", "0 to 65535"}},
		{"start in the future", []string{"--source", unreachable, "--store", store, "--start", future}, []string{"--start " + future, "is in the future"}},
		{"stream name", []string{"--source", unreachable, "--store", store, "--stream", "a/b"}, []string{"--stream", "a/b"}},
	}
	for _, tc := range tailerd {
		t.Run("tailerd "+tc.name, func(t *testing.T) {
			logPath := filepath.Join(t.TempDir(), "log")
			d := startTailerd(t, logPath, tc.args...)
			code := d.wait(t, 60*time.Second)
			out, _ := os.ReadFile(logPath)
			if code != 2 || !containsAll(string(out), tc.says...) {
				t.Errorf("exit %d, want 2 with %q in:\n%s", code, tc.says, out)
			}
		})
	}

	segStore, _ := writeStore(t, 2)
	replayerCases := []struct {
		name string
		args []string
		code int
		says []string
	}{
		{"--parallel 0", []string{"restore", "--cluster", "--store", segStore, "--target-for", "rs0=" + unreachable, "--parallel", "0"}, 2, []string{"--parallel 0", "want 1 to 64"}},
		{"--parallel 10000", []string{"restore", "--cluster", "--store", segStore, "--target-for", "rs0=" + unreachable, "--parallel", "10000"}, 2, []string{"--parallel 10000", "want 1 to 64"}},
		{"--workers 10000", []string{"restore-dump", "--dump", dir, "--target", unreachable, "--workers", "10000"}, 2, []string{"--workers 10000", "want 1 to 64"}},
		{"--connect-timeout 0", []string{"restore", "--store", segStore, "--target", unreachable, "--connect-timeout", "0s"}, 2, []string{"--connect-timeout 0s", "1ms to 1h"}},
		{"--connect-timeout negative", []string{"apply", "--oplog-file", segStore, "--target", unreachable, "--connect-timeout", "-1s"}, 2, []string{"--connect-timeout -1s"}},
		{"cluster --connect-timeout", []string{"restore", "--cluster", "--store", segStore, "--target-for", "rs0=" + unreachable, "--connect-timeout", "1000h"}, 2, []string{"--connect-timeout 1000h0m0s"}},
		{"follow port out of range", []string{"follow", "--store", segStore, "--target", unreachable, "--checkpoint", filepath.Join(dir, "f"), "--http-addr", ":70000"}, 2, []string{"--http-addr", `":70000"`, "to 65535"}},
		{"follow poll 0", []string{"follow", "--store", segStore, "--target", unreachable, "--checkpoint", filepath.Join(dir, "f"), "--poll", "0s"}, 2, []string{"--poll 0s", "want 10ms to 1m"}},
		{"--to in the future", []string{"restore", "--store", segStore, "--dry-run", "--to", future}, 3, []string{future, "outside every restorable window", "restorable: 1700000000.1..1700000000.400"}},
		{"--to before the first segment", []string{"restore", "--store", segStore, "--dry-run", "--to", "1600000000.1"}, 3, []string{"1600000000.1 is outside every restorable window"}},
		{"--to garbage", []string{"restore", "--store", segStore, "--dry-run", "--to", "yesterday"}, 2, []string{"--to", "want T.I"}},
		{"store location garbage", []string{"verify", "--store", "kafka://"}, 2, []string{"--store", "no brokers"}},
		{"store unknown parameter", []string{"list", "--store", "s3://bucket?endpont=h:1"}, 2, []string{"unknown parameter endpont"}},
	}
	for _, tc := range replayerCases {
		t.Run("replayer "+tc.name, func(t *testing.T) {
			code, out, errOut := replayer(t, tc.args...)
			if code != tc.code || !containsAll(out+errOut, tc.says...) {
				t.Errorf("exit %d, want %d with %q in:\n%s%s", code, tc.code, tc.says, out, errOut)
			}
		})
	}
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// A damaged checkpoint - a flipped or truncated table, garbage in a table,
// in OPTIONS or in the MANIFEST - stops tailerd at start with the checkpoint
// exit code (6), naming the directory and saying to move it aside; never a
// panic, never a start on a half-read checkpoint.
func TestCorruptCheckpointDirectory(t *testing.T) {
	store := filepath.Join(t.TempDir(), "store")
	if _, err := dirstore.Open(store, true); err != nil {
		t.Fatal(err)
	}
	damage := map[string]func(name string, data []byte) []byte{
		"flipped table": func(name string, b []byte) []byte {
			if strings.HasSuffix(name, ".sst") {
				b[len(b)/3] ^= 0xff
			}
			return b
		},
		"truncated table": func(name string, b []byte) []byte {
			if strings.HasSuffix(name, ".sst") {
				return b[:len(b)/2]
			}
			return b
		},
		"garbage table": func(name string, b []byte) []byte {
			if strings.HasSuffix(name, ".sst") {
				return bytes.Repeat([]byte("x"), len(b))
			}
			return b
		},
		// (A flipped byte inside the MANIFEST's last records reads to
		// Pebble as a write cut short by a crash: it opens the state before
		// them, and tailerd rebuilds what is missing from the store.)
		"garbage MANIFEST": func(name string, b []byte) []byte {
			if strings.HasPrefix(name, "MANIFEST-") {
				return bytes.Repeat([]byte{0xa5}, len(b))
			}
			return b
		},
		"garbage OPTIONS": func(name string, b []byte) []byte {
			if strings.HasPrefix(name, "OPTIONS-") {
				return []byte("[Version]\n  garbage\n")
			}
			return b
		},
	}
	for what, harm := range damage {
		t.Run(what, func(t *testing.T) {
			dir := checkpointWithTable(t)
			entries, err := os.ReadDir(dir)
			must(t, err)
			changed := 0
			for _, e := range entries {
				p := filepath.Join(dir, e.Name())
				data, err := os.ReadFile(p)
				must(t, err)
				if after := harm(e.Name(), bytes.Clone(data)); !bytes.Equal(after, data) {
					must(t, os.WriteFile(p, after, 0o644))
					changed++
				}
			}
			if changed == 0 {
				t.Fatalf("nothing to damage among %d files", len(entries))
			}
			logPath := filepath.Join(t.TempDir(), "log")
			d := startTailerd(t, logPath, "--source", "mongodb://127.0.0.1:1/?directConnection=true", "--store", store, "--checkpoint", dir)
			code := d.wait(t, 60*time.Second)
			out, _ := os.ReadFile(logPath)
			if code != 6 || !containsAll(string(out), "checkpoint "+dir, "not a usable tidelog checkpoint", "move it aside") || strings.Contains(string(out), "panic") {
				t.Errorf("exit %d, want 6 naming %s and saying to move it aside:\n%s", code, dir, out)
			}
		})
	}
}

// checkpointWithTable is a tailer checkpoint whose records are in a Pebble
// table (.sst), not only in its write-ahead log: a flush, which tailerd's
// small writes rarely cause, so that damage to a table can be tried.
func checkpointWithTable(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), "checkpoint")
	db, err := checkpoint.Open(dir)
	must(t, err)
	for i := range 20 {
		must(t, db.RecordGap(fmt.Sprintf("rs%d", i), tidestore.Gap{After: oplog.Timestamp{T: 1700000000, I: 1}, Next: oplog.Timestamp{T: 1700000100, I: 1},
			Detected: time.Now(), Reason: "test"}))
	}
	must(t, db.Close())
	p, err := pebble.Open(dir, &pebble.Options{Logger: pebbledir.Logger{}})
	must(t, err)
	must(t, p.Flush())
	must(t, p.Close())
	tables, err := filepath.Glob(filepath.Join(dir, "*.sst"))
	must(t, err)
	if len(tables) == 0 {
		t.Fatal("no table after a flush")
	}
	return dir
}

// Flipped bits, a truncation and two swapped segments: verify reports the
// segment and the byte offset of the damage (exit 4), and a restore
// refuses before its first write, naming them too.
func TestDamagedSegmentsNamedWithOffset(t *testing.T) {
	target := testserver.StartT(t, testserver.Options{NoOplog: true})
	damage := map[string]func(t *testing.T, files []string) string{
		"flipped bit": func(t *testing.T, files []string) string {
			data, err := os.ReadFile(files[1])
			must(t, err)
			data[len(data)/2] ^= 0x04
			must(t, os.WriteFile(files[1], data, 0o644))
			return filepath.Base(files[1])
		},
		"truncated": func(t *testing.T, files []string) string {
			info, err := os.Stat(files[1])
			must(t, err)
			must(t, os.Truncate(files[1], info.Size()-100))
			return filepath.Base(files[1])
		},
		"swapped": func(t *testing.T, files []string) string {
			a, err := os.ReadFile(files[0])
			must(t, err)
			b, err := os.ReadFile(files[1])
			must(t, err)
			must(t, os.WriteFile(files[0], b, 0o644))
			must(t, os.WriteFile(files[1], a, 0o644))
			return filepath.Base(files[0])
		},
	}
	for what, harm := range damage {
		t.Run(what, func(t *testing.T) {
			dir, files := writeStore(t, 3)
			victim := harm(t, files)
			code, out, errOut := replayer(t, "verify", "--store", dir)
			if code != 4 || !containsAll(out, "PROBLEM", victim, "corrupt at byte ") || !strings.Contains(errOut, "restore a damaged segment's file from another copy") {
				t.Errorf("verify: exit %d, want 4 naming %s and the offset:\n%s%s", code, victim, out, errOut)
			}
			code, out, errOut = replayer(t, "restore", "--store", dir, "--target", target.URI, "--drop")
			if code != 4 || !containsAll(errOut, victim, "corrupt at byte ", "replayer verify --store "+dir) {
				t.Errorf("restore: exit %d, want 4 naming %s and the offset:\n%s%s", code, victim, out, errOut)
			}
			c, err := target.Client()
			must(t, err)
			defer c.Disconnect(context.Background())
			if n, err := c.Database("d").Collection("c").CountDocuments(context.Background(), bson.D{}); err != nil || n != 0 {
				t.Errorf("restore wrote %d documents (%v) before finding the damage", n, err)
			}
		})
	}
}

// Damage to a snapshot's files - a flipped bit, a truncation, two data
// files swapped - is named by verify and by a restore (exit 4) down to the
// file; a damaged manifest too is damage verify names (exit 4), and the
// snapshot is never listed as usable.
func TestDamagedSnapshotFilesNamed(t *testing.T) {
	ctx := context.Background()
	src := testserver.StartT(t, testserver.Options{})
	client, err := src.Client()
	must(t, err)
	defer client.Disconnect(ctx)
	target := testserver.StartT(t, testserver.Options{NoOplog: true})
	for _, ns := range []string{"a", "b"} {
		docs := make([]any, 300)
		for i := range docs {
			docs[i] = bson.D{{Key: "_id", Value: i}, {Key: "v", Value: strings.Repeat(ns, 100)}}
		}
		_, err := client.Database("shop").Collection(ns).InsertMany(ctx, docs)
		must(t, err)
	}
	base := filepath.Join(t.TempDir(), "store")
	st, err := dirstore.Open(base, true)
	must(t, err)
	m, err := snapshot.Take(ctx, client, st, snapshot.Options{}, zerolog.Nop())
	must(t, err)
	storeOplog(t, client, st, m.Stream)
	ca, _ := m.Collection("shop.a")
	cb, _ := m.Collection("shop.b")
	fileA, fileB := ca.Files[0].Name, cb.Files[0].Name

	damage := map[string]func(t *testing.T, dir string) string{
		"flipped bit in a data file": func(t *testing.T, dir string) string {
			p := filepath.Join(dir, fileA)
			data, err := os.ReadFile(p)
			must(t, err)
			data[len(data)/2] ^= 0x01
			must(t, os.WriteFile(p, data, 0o644))
			return fileA
		},
		"truncated data file": func(t *testing.T, dir string) string {
			p := filepath.Join(dir, fileB)
			info, err := os.Stat(p)
			must(t, err)
			must(t, os.Truncate(p, info.Size()-9))
			return fileB
		},
		"swapped data files": func(t *testing.T, dir string) string {
			a, err := os.ReadFile(filepath.Join(dir, fileA))
			must(t, err)
			b, err := os.ReadFile(filepath.Join(dir, fileB))
			must(t, err)
			must(t, os.WriteFile(filepath.Join(dir, fileA), b, 0o644))
			must(t, os.WriteFile(filepath.Join(dir, fileB), a, 0o644))
			return fileA
		},
	}
	for what, harm := range damage {
		t.Run(what, func(t *testing.T) {
			store := filepath.Join(t.TempDir(), "store")
			copyDir(t, base, store)
			victim := harm(t, filepath.Join(store, "streams", m.Stream, "snapshots", m.ID))
			code, out, errOut := replayer(t, "verify", "--store", store)
			if code != 4 || !containsAll(out, "PROBLEM", "snapshot "+m.ID, strconv.Quote(victim), "is corrupt") {
				t.Errorf("verify: exit %d, want 4 naming %s of snapshot %s:\n%s%s", code, victim, m.ID, out, errOut)
			}
			code, out, errOut = replayer(t, "restore", "--store", store, "--target", target.URI, "--drop")
			if code != 4 || !containsAll(errOut, "snapshot "+m.Stream+"/"+m.ID, strconv.Quote(victim), "is corrupt", "replayer verify --store "+store) {
				t.Errorf("restore: exit %d, want 4 naming %s:\n%s%s", code, victim, out, errOut)
			}
		})
	}
	for what, harm := range map[string]func([]byte) []byte{
		"flipped bit in the manifest": func(b []byte) []byte { b[len(b)/2] ^= 0x02; return b },
		"truncated manifest":          func(b []byte) []byte { return b[:len(b)-20] },
	} {
		t.Run(what, func(t *testing.T) {
			store := filepath.Join(t.TempDir(), "store")
			copyDir(t, base, store)
			p := filepath.Join(store, "streams", m.Stream, "snapshots", m.ID, snapshot.ManifestName)
			data, err := os.ReadFile(p)
			must(t, err)
			must(t, os.WriteFile(p, harm(data), 0o644))
			code, out, errOut := replayer(t, "verify", "--store", store)
			if code != 4 || !containsAll(out, "PROBLEM", "snapshot "+m.ID, strconv.Quote(snapshot.ManifestName), "is corrupt") {
				t.Errorf("verify: exit %d, want 4 naming %s of snapshot %s:\n%s%s", code, snapshot.ManifestName, m.ID, out, errOut)
			}
			code, out, errOut = replayer(t, "list", "--store", store)
			lower := strings.ToLower(out)
			if code != 0 || strings.Contains(out, m.ID) && !strings.Contains(lower, "incomplete") && !strings.Contains(lower, "damaged") {
				t.Errorf("list: exit %d: a snapshot with a damaged manifest listed as usable:\n%s%s", code, out, errOut)
			}
		})
	}
}

// storeOplog writes the source's whole oplog into st as one segment of
// stream, the start of its capture, so that a snapshot taken meanwhile is
// restorable without running tailerd.
func storeOplog(t *testing.T, c *mongo.Client, st tidestore.Store, stream string) {
	ctx := context.Background()
	cur, err := c.Database("local").Collection("oplog.rs").Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "$natural", Value: 1}}))
	must(t, err)
	defer cur.Close(ctx)
	w := segment.NewWriter(stream)
	w.Start(segment.Link{})
	for cur.Next(ctx) {
		must(t, w.Append(bytes.Clone(cur.Current)))
	}
	must(t, cur.Err())
	info, data, err := w.Finish()
	must(t, err)
	must(t, st.PutSegment(ctx, stream, info.Name, data))
}
