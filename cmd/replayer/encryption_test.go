package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/crypt"
	"github.com/tidelog/tidelog/crypt/crypttest"
	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/segment"
	"github.com/tidelog/tidelog/snapshot"
	"github.com/tidelog/tidelog/store"
	"github.com/tidelog/tidelog/store/dirstore"
)

// These tests run the commands on a directory store the test writes, as
// tailerd would (or as someone who can write to the store but has no key
// could): verify, list and restore --dry-run need no server.

const testT = 1700000000

func pos(i uint32) oplog.Timestamp { return oplog.Timestamp{T: testT, I: i} }

// encStore is a directory store of stream rs0 and the key file of keys.
type encStore struct {
	t       *testing.T
	dir     string
	st      *dirstore.Store
	keys    *crypt.Keyring
	keyFile string
	prev    segment.Link
}

func newEncStore(t *testing.T) *encStore {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store")
	st, err := dirstore.Open(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := crypt.NewKeyring(crypt.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	kf := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(kf, []byte(crypt.FormatKey(keys.Primary())+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &encStore{t: t, dir: dir, st: st, keys: keys, keyFile: kf}
}

// segment stores n entries from position from as the next segment of the
// chain, encrypted with e's keys, or plaintext with nil.
func (e *encStore) segment(keys *crypt.Keyring, from, n uint32) segment.Info {
	e.t.Helper()
	w := segment.NewWriterWith("rs0", segment.WriterOptions{Keys: keys})
	w.Start(e.prev)
	for i := from; i < from+n; i++ {
		entry, err := bson.Marshal(bson.D{{Key: "ts", Value: bson.Timestamp{T: testT, I: i}}, {Key: "op", Value: "n"}, {Key: "ns", Value: ""}, {Key: "o", Value: bson.D{}}})
		if err != nil {
			e.t.Fatal(err)
		}
		if err := w.Append(entry); err != nil {
			e.t.Fatal(err)
		}
	}
	info, data, err := w.Finish()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.st.PutSegment(context.Background(), "rs0", info.Name, data); err != nil {
		e.t.Fatal(err)
	}
	e.prev = info.Link()
	return info
}

// manifest stores snapshot id (no collections, start..start+3) as
// docs/snapshot-format.md specifies it, sealed with keys, or plaintext
// with nil (what anyone who can write to the store can forge).
func (e *encStore) manifest(id string, start uint32, keys *crypt.Keyring) []byte {
	e.t.Helper()
	finished := time.Now().UTC()
	body, err := json.Marshal(map[string]any{"version": snapshot.FormatVersion, "id": id, "stream": "rs0", "replicaSet": "rs0", "server": "",
		"start": pos(start).String(), "end": pos(start + 3).String(), "taken": finished.Add(-time.Minute), "finished": finished,
		"includeUsers": false, "files": 0, "docs": 0, "bytes": 0, "storedBytes": 0, "collections": []any{}})
	if err != nil {
		e.t.Fatal(err)
	}
	data := fmt.Appendf(nil, `{"format": "tidelog-snapshot", "checksum": "crc32c:%08x", "manifest": %s}`,
		crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)), body)
	if keys != nil {
		var sealed bytes.Buffer
		w, err := crypt.NewWriter(&sealed, keys, "snapshot/rs0/"+id+"/"+snapshot.ManifestName)
		if err != nil {
			e.t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			e.t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			e.t.Fatal(err)
		}
		data = sealed.Bytes()
	}
	e.putManifest(id, data)
	return data
}

func (e *encStore) putManifest(id string, data []byte) {
	e.t.Helper()
	if _, err := e.st.PutSnapshotFile(context.Background(), "rs0", id, snapshot.ManifestName, bytes.NewReader(data)); err != nil {
		e.t.Fatal(err)
	}
}

// run runs replayer with args and returns its exit code and output.
func runReplayer(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// A manifest tampered with (one bit of its authentication tag) is damage:
// verify reports it as a problem naming the file and what to do, and exits
// 4; list calls it damaged and does not promise that tailerd deletes it.
func TestVerifyReportsDamagedEncryptedManifest(t *testing.T) {
	e := newEncStore(t)
	e.segment(e.keys, 1, 50)
	id := "20231114T221320Z-1700000000.0000000002"
	md := e.manifest(id, 2, e.keys)
	md[len(md)-5] ^= 1
	e.putManifest(id, md)

	code, out, errOut := runReplayer(t, "verify", "--store", e.dir, "--encryption-key-file", e.keyFile)
	want := "PROBLEM rs0/snapshot " + id + ": snapshot rs0/" + id + `: file "manifest.json" is corrupt: encrypted, damaged at byte `
	what := "; the snapshot is never used for a restore, and tailerd keeps it: replace it from another copy of the store, or move it out of the store once you have looked at it\n"
	if code != exitDamaged || !strings.Contains(out, want) || !strings.Contains(out, what) || strings.Contains(out, "incomplete") {
		t.Fatalf("verify over a tampered encrypted manifest: exit %d, want %d with %q\n%s%s", code, exitDamaged, want, out, errOut)
	}
	code, out, errOut = runReplayer(t, "list", "--store", e.dir, "--encryption-key-file", e.keyFile)
	if code != exitOK || !strings.Contains(out, "  DAMAGED snapshot "+id+": never restorable, and kept (tailerd does not delete it; run replayer verify): ") ||
		strings.Contains(out, "INCOMPLETE") || strings.Contains(out, "tailerd deletes it") {
		t.Fatalf("list: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runReplayer(t, "list", "--store", e.dir, "--encryption-key-file", e.keyFile, "--json")
	var l struct {
		Streams []struct {
			Incomplete []string `json:"incomplete_snapshots"`
			Damaged    []struct {
				ID    string `json:"id"`
				Error string `json:"error"`
			} `json:"damaged_snapshots"`
		} `json:"streams"`
	}
	if err := json.Unmarshal([]byte(out), &l); err != nil || code != exitOK || len(l.Streams) != 1 || len(l.Streams[0].Incomplete) != 0 ||
		len(l.Streams[0].Damaged) != 1 || l.Streams[0].Damaged[0].ID != id {
		t.Fatalf("list --json: exit %d, %v\n%s%s", code, err, out, errOut)
	}
}

// A plaintext segment linked to the encrypted head (forged without the
// key: the link is in the head's clear header) is a problem for verify
// with or without keys, even with --allow-unencrypted, while the plaintext
// segments from before encryption are not; list shows the break and why,
// and a restore to the latest position stops before it.
func TestVerifyReportsPlaintextSegmentAfterEncrypted(t *testing.T) {
	e := newEncStore(t)
	e.segment(nil, 1, 10) // before encryption was turned on
	head := e.segment(e.keys, 11, 40)
	forged := e.segment(nil, 51, 5)
	reason := "PROBLEM rs0/" + forged.Name + ": plaintext segment after encrypted ones: forged, or written by a tailerd without its key (the stream is encrypted since segment " +
		head.Name + "); no restore crosses it: check where it came from, then move it out of the store\n"
	for _, args := range [][]string{
		{"verify", "--store", e.dir, "--encryption-key-file", e.keyFile, "--allow-unencrypted"},
		{"verify", "--store", e.dir},
	} {
		code, out, errOut := runReplayer(t, args...)
		if code != exitDamaged || !strings.Contains(out, reason) || strings.Count(out, "PROBLEM") != 1 {
			t.Fatalf("%v: exit %d, want %d with %q\n%s%s", args, code, exitDamaged, reason, out, errOut)
		}
	}
	code, out, errOut := runReplayer(t, "list", "--store", e.dir)
	if want := "  BREAK: " + forged.Name + " after " + head.Name + ": plaintext segment after encrypted ones: forged, or written by a tailerd without its key (run replayer verify)\n"; code != exitOK || !strings.Contains(out, want) {
		t.Fatalf("list: exit %d, want %q\n%s%s", code, want, out, errOut)
	}
	code, out, errOut = runReplayer(t, "restore", "--store", e.dir, "--dry-run", "--encryption-key-file", e.keyFile, "--allow-unencrypted")
	if want := "plan: restore stream rs0 to " + pos(50).String() + " "; code != exitOK || !strings.Contains(out, want) || strings.Contains(out, forged.Name) {
		t.Fatalf("restore --dry-run to the latest position: exit %d, want %q, without %s\n%s%s", code, want, forged.Name, out, errOut)
	}
}

// Without the key, verify counts the entries of encrypted segments from
// their headers but cannot decode them, and says so.
func TestVerifyWithoutKeySaysEntriesNotDecrypted(t *testing.T) {
	e := newEncStore(t)
	e.segment(nil, 1, 10)
	e.segment(e.keys, 11, 40)
	code, out, errOut := runReplayer(t, "verify", "--store", e.dir)
	if want := "OK: 1 streams, 2 segments, 50 entries (40 not decrypted), 0 snapshots verified (checksums, chain, manifests)\n"; code != exitOK || !strings.Contains(out, want) {
		t.Fatalf("verify without the key: exit %d, want %q\n%s%s", code, want, out, errOut)
	}
	code, out, errOut = runReplayer(t, "verify", "--store", e.dir, "--encryption-key-file", e.keyFile, "--allow-unencrypted")
	if want := "OK: 1 streams, 2 segments, 50 entries, 0 snapshots verified (checksums, chain, manifests)\n"; code != exitOK || !strings.Contains(out, want) {
		t.Fatalf("verify with the key: exit %d, want %q\n%s%s", code, want, out, errOut)
	}
}

// A plaintext manifest newer than the stream's encrypted snapshot is
// refused: verify reports it (exit 4) whatever the flags, naming it as
// forged or written without the key, never suggesting --allow-unencrypted.
func TestVerifyReportsPlaintextSnapshotAfterEncryption(t *testing.T) {
	e := newEncStore(t)
	e.segment(e.keys, 1, 50)
	e.manifest("20231114T221320Z-1700000000.0000000002", 2, e.keys)
	forged := "20231114T231320Z-1700000000.0000000040"
	e.manifest(forged, 40, nil)
	for _, args := range [][]string{
		{"verify", "--store", e.dir, "--encryption-key-file", e.keyFile},
		{"verify", "--store", e.dir, "--encryption-key-file", e.keyFile, "--allow-unencrypted"},
	} {
		code, out, errOut := runReplayer(t, args...)
		want := "PROBLEM rs0/snapshot " + forged + ": snapshot rs0/" + forged + " is not encrypted, but the stream is encrypted since "
		if code != exitDamaged || !strings.Contains(out, want) || !strings.Contains(out, "forged, or was written by a tailerd without its key") ||
			strings.Contains(out, "--allow-unencrypted") {
			t.Fatalf("%v: exit %d, want %d with %q\n%s%s", args, code, exitDamaged, want, out, errOut)
		}
	}
}

// restore --to latest fails when the only snapshot past a gap cannot be
// read: exit 2 for a key not given (the snapshot's own error), rather than
// a plan that quietly ends before the gap; an explicit --to before the gap
// still plans, with a note.
func TestRestoreLatestNeedsUnreadableSnapshot(t *testing.T) {
	e := newEncStore(t)
	e.segment(e.keys, 1, 100)
	if err := e.st.PutGap(context.Background(), "rs0", store.Gap{After: pos(100), Next: pos(500), Detected: time.Now(), Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	e.prev = segment.Link{}
	e.segment(e.keys, 500, 100)
	other, err := crypt.NewKeyring(crypt.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	id := "20231114T221320Z-1700000000.0000000510"
	e.manifest(id, 510, other)
	code, out, errOut := runReplayer(t, "restore", "--store", e.dir, "--dry-run", "--encryption-key-file", e.keyFile)
	want := "replayer restore: stream rs0: the latest position needs snapshot " + id + " (its segments reach " + pos(599).String() +
		"; without it the latest restorable position is " + pos(100).String() + "), which cannot be used: snapshot rs0/" + id + " file manifest.json: wrong key"
	if code != exitUsage || !strings.Contains(errOut, want) {
		t.Fatalf("restore --to latest: exit %d, want %d with %q\n%s%s", code, exitUsage, want, out, errOut)
	}
	code, out, errOut = runReplayer(t, "restore", "--store", e.dir, "--dry-run", "--encryption-key-file", e.keyFile, "--to", pos(50).String())
	if code != exitOK || !strings.Contains(out, "plan: restore stream rs0 to "+pos(50).String()) || !strings.Contains(out, "  note: snapshot "+id+" left out of the plan: ") {
		t.Fatalf("restore --to %s: exit %d\n%s%s", pos(50), code, out, errOut)
	}
}

// Without the keys, verify names the keys of a rotated chain in the order
// the chain used them, the oldest first, as list does.
func TestVerifyWithoutKeyNamesKeysInOrderOfUse(t *testing.T) {
	e := newEncStore(t)
	a, b := crypttest.Key(t, 1), crypttest.Key(t, 2)
	if a.ID().String() < b.ID().String() {
		a, b = b, a // the first key used sorts last: sorting would show b first
	}
	e.segment(crypttest.Ring(t, a), 1, 10)
	e.segment(crypttest.Ring(t, b, a), 11, 10)
	code, out, errOut := runReplayer(t, "verify", "--store", e.dir)
	want := "rs0: 2 segments encrypted with key(s) " + a.ID().String() + ", " + b.ID().String() + ": structure and chain verified"
	if code != exitOK || !strings.Contains(out, want) || !strings.Contains(out, "checked without their key ("+a.ID().String()+", "+b.ID().String()+")") {
		t.Fatalf("verify without the keys: exit %d, want %q\n%s%s", code, want, out, errOut)
	}
}
