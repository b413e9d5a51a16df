package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/crypt"
	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/internal/workload"
	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/segment"
)

// Distinctive values written to the source: the control one while capture
// is unencrypted (it must show in the store, proving the search finds such
// a value through lz4), the secret one once it is encrypted (it must not).
// Random letters share no 4 bytes with anything else in the oplog, so lz4
// leaves them as literals.
const (
	plainMarker  = "Qz7vK2mX9pL4wR8nT3bY6hJ1cF5dG0sAe"
	secretMarker = "Wm4Xq8Ze1Rt6Yu3Io9Pa2Sd7Fg5Hj0KlN"
)

var keyIDLine = regexp.MustCompile(`key id ([0-9a-f]{16})`)

// genkey makes a key file with `tailerd genkey -o`, checks it is private
// and returns its key id, as printed on stderr.
func genkey(t *testing.T, path string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "tailerd"), "genkey", "-o", path)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("tailerd genkey -o %s: %v\n%s", path, err, stderr.String())
	}
	if stdout.Len() != 0 {
		t.Fatalf("tailerd genkey -o printed on stdout: %q", stdout.String())
	}
	fi, err := os.Stat(path)
	must(t, err)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("genkey made %s with mode %04o, want 0600", path, fi.Mode().Perm())
	}
	m := keyIDLine.FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("genkey's stderr names no key id: %q", stderr.String())
	}
	kr, err := crypt.LoadFile(path)
	must(t, err)
	if kr.Primary().ID().String() != m[1] {
		t.Fatalf("genkey printed key id %s, the file's key is %s", m[1], kr.Primary().ID())
	}
	return m[1]
}

// segmentKeys reads the header of every segment of rs0: its key id, ""
// for a plaintext segment, by name.
func segmentKeys(t *testing.T, store string) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(store, "streams", testserver.ReplicaSet, "segments", "*.tseg"))
	must(t, err)
	out := map[string]string{}
	for _, f := range files {
		fh, err := os.Open(f)
		must(t, err)
		h, _, err := segment.ReadHeader(fh)
		fh.Close()
		must(t, err)
		out[filepath.Base(f)] = ""
		if h.Encrypted {
			out[filepath.Base(f)] = h.KeyID.String()
		}
	}
	return out
}

// storedFilesHolding lists the files of the store (the local checkpoint
// aside: encryption does not cover it, see docs/encryption.md) whose bytes
// contain value.
func storedFilesHolding(t *testing.T, store, value string) (holding []string, files int) {
	t.Helper()
	must(t, filepath.Walk(store, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.IsDir() && info.Name() == "checkpoint" {
			return filepath.SkipDir
		}
		if info.IsDir() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		if bytes.Contains(data, []byte(value)) {
			rel, _ := filepath.Rel(store, path)
			holding = append(holding, rel)
		}
		return nil
	}))
	return holding, files
}

func writeKeyFile(t *testing.T, path string, keyFiles ...string) {
	t.Helper()
	var body []byte
	for _, f := range keyFiles {
		data, err := os.ReadFile(f)
		must(t, err)
		body = append(body, data...)
	}
	must(t, os.WriteFile(path, body, 0o600))
}

// Encryption at rest, end to end with the real binaries: capture begins
// unencrypted, goes on encrypted with a key file (a snapshot included), then
// with a rotated key file [new, old]. Nothing stored holds a value written
// once encryption was on; verify checks what it can without the key and
// everything with it; restores across the plaintext part, the snapshot and
// the rotation equal the source with the right keys and fail clearly
// without them; a tampered segment is named.
func TestEncryptionEndToEnd(t *testing.T) {
	ctx := context.Background()
	src := testserver.StartT(t, testserver.Options{})
	client, err := src.Client()
	must(t, err)
	defer client.Disconnect(ctx)

	work := t.TempDir()
	store := filepath.Join(work, "store")
	logPath := filepath.Join(work, "tailerd.log")
	oldKey, newKey, rotated := filepath.Join(work, "old.key"), filepath.Join(work, "new.key"), filepath.Join(work, "rotated.key")
	oldID := genkey(t, oldKey)
	newID := genkey(t, newKey)
	writeKeyFile(t, rotated, newKey, oldKey)

	// genkey never overwrites a key file.
	before, err := os.ReadFile(oldKey)
	must(t, err)
	if out, err := exec.Command(filepath.Join(binDir, "tailerd"), "genkey", "-o", oldKey).CombinedOutput(); err == nil ||
		!strings.Contains(string(out), "already exists") {
		t.Fatalf("genkey over an existing key file: %v\n%s", err, out)
	}
	if after, _ := os.ReadFile(oldKey); !bytes.Equal(before, after) {
		t.Fatal("genkey changed an existing key file")
	}

	args := []string{"--source", src.URI, "--store", store, "--cut-age", "300ms", "--cut-bytes", "65536"}
	w := workload.New(client, 11)
	var points []recorded
	record := func() {
		points = append(points, recorded{ts: lastTS(t, src, client), state: mustDump(t, client)})
	}
	marker := func(id, v string) {
		_, err := client.Database("app").Collection("events").InsertOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "v", Value: v}})
		must(t, err)
	}
	stopAt := func(d *daemon, ts oplog.Timestamp) {
		t.Helper()
		waitRestorable(t, store, logPath, ts)
		if code := d.stop(t); code != 0 {
			t.Fatalf("tailerd exited %d on SIGTERM\n%s", code, logTail(logPath))
		}
	}

	// 1. Unencrypted, as before encryption existed: a chain that starts in
	// plaintext.
	d := startTailerd(t, logPath, args...)
	marker("m-plain", plainMarker)
	must(t, w.Step(ctx, 100))
	record() // 0
	stopAt(d, points[0].ts)
	if !d.Logged("stored unencrypted") {
		t.Errorf("tailerd without a key did not say segments are stored unencrypted:\n%s", d.Output())
	}

	// 2. Encrypted with one key, with a snapshot.
	d = startTailerd(t, logPath, append(args, "--encryption-key-file", oldKey)...)
	waitForLog(t, 60*time.Second, logPath, func() bool { return d.Logged("encrypting with key " + oldID + " (1 keys loaded)") })
	marker("m-secret", secretMarker)
	must(t, w.Step(ctx, 100))
	d.snapshotNow(t)
	waitForLog(t, 120*time.Second, logPath, func() bool { return countSnapshotsTaken(logPath) >= 1 })
	must(t, w.Step(ctx, 60))
	record() // 1: after the snapshot
	stopAt(d, points[1].ts)
	if strings.Contains(d.Output(), readKey(t, oldKey)) {
		t.Fatal("tailerd logged the key itself")
	}
	if !d.Logged("from here on they are encrypted") {
		t.Errorf("tailerd did not note that the chain goes from plaintext to encrypted:\n%s", d.Output())
	}
	encryptedFrom := points[0].ts

	// 3. Rotated: the new key first, the old one kept below it.
	d = startTailerd(t, logPath, append(args, "--encryption-key-file", rotated)...)
	waitForLog(t, 60*time.Second, logPath, func() bool { return d.Logged("encrypting with key " + newID + " (2 keys loaded)") })
	must(t, w.Step(ctx, 100))
	record() // 2: after the rotation
	stopAt(d, points[2].ts)
	rotatedFrom := points[1].ts

	// Every segment's header names the key the phase used.
	keys := segmentKeys(t, store)
	seen := map[string]int{}
	for name, id := range keys {
		start, _, err := segment.ParseName(name)
		must(t, err)
		want := ""
		switch {
		case start.After(rotatedFrom):
			want = newID
		case start.After(encryptedFrom):
			want = oldID
		}
		if id != want {
			t.Errorf("segment %s: key %q, want %q (plaintext through %s, key %s through %s, then key %s)", name, id, want, encryptedFrom, oldID, rotatedFrom, newID)
		}
		seen[want]++
	}
	if seen[""] == 0 || seen[oldID] == 0 || seen[newID] == 0 {
		t.Fatalf("segments by key: %v; want plaintext, old-key and new-key segments", seen)
	}

	// Nothing stored holds the value written once encryption was on; the
	// control value, written before, shows (so the search would find it).
	if holding, files := storedFilesHolding(t, store, secretMarker); len(holding) != 0 || files < 5 {
		t.Fatalf("the secret value is readable in %v (of %d stored files)", holding, files)
	}
	if holding, _ := storedFilesHolding(t, store, plainMarker); len(holding) == 0 {
		t.Fatal("the control value written before encryption is not found in the store: the search proves nothing")
	}

	snapID := checkEncryptedListing(t, store, rotated, oldID, newID)
	checkVerifyWithKeys(t, store, oldKey, newKey, rotated, snapID, oldID, newID)
	checkEncryptedRestores(t, store, newKey, rotated, points, oldID)
	checkTamperedSegment(t, store, rotated)
}

// readKey is the key line of a key file, to look for it where it must not be.
func readKey(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	must(t, err)
	for _, line := range strings.Split(string(data), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			return strings.TrimSpace(line)
		}
	}
	t.Fatalf("no key in %s", path)
	return ""
}

// checkEncryptedListing checks that list shows the keys, without a key and
// with one, and returns the snapshot's id.
func checkEncryptedListing(t *testing.T, store, rotated, oldID, newID string) string {
	t.Helper()
	code, out, errOut := replayer(t, "list", "--store", store, "--json")
	if code != 0 {
		t.Fatalf("list without a key: exit %d\n%s%s", code, out, errOut)
	}
	var l struct {
		Streams []struct {
			KeyIDs     []string `json:"key_ids"`
			Unreadable []struct {
				ID    string `json:"id"`
				KeyID string `json:"key_id"`
			} `json:"unreadable_snapshots"`
			Segments []struct {
				KeyID string `json:"key_id"`
			} `json:"segments"`
		} `json:"streams"`
	}
	must(t, json.Unmarshal([]byte(out), &l))
	if len(l.Streams) != 1 || !slices.Equal(l.Streams[0].KeyIDs, []string{oldID, newID}) || len(l.Streams[0].Unreadable) != 1 ||
		l.Streams[0].Unreadable[0].KeyID != oldID || l.Streams[0].Segments[0].KeyID != "" {
		t.Fatalf("list --json without a key: %s", out)
	}
	snapID := l.Streams[0].Unreadable[0].ID
	code, out, errOut = replayer(t, "list", "--store", store)
	if code != 0 || !strings.Contains(out, "encryption: key(s) "+oldID+", "+newID+"; ") || !strings.Contains(out, "older segments unencrypted") ||
		!strings.Contains(out, "UNREADABLE snapshot "+snapID) {
		t.Fatalf("list without a key: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = replayer(t, "list", "--store", store, "--encryption-key-file", rotated, "--allow-unencrypted")
	if code != 0 || !strings.Contains(out, "snapshot "+snapID+": start") || !strings.Contains(out, "encrypted with key "+oldID) {
		t.Fatalf("list with the keys: exit %d\n%s%s", code, out, errOut)
	}
	return snapID
}

func checkVerifyWithKeys(t *testing.T, store, oldKey, newKey, rotated, snapID, oldID, newID string) {
	t.Helper()
	// Without a key: everything that needs none is checked, exit 0 with a notice.
	code, out, errOut := replayer(t, "verify", "--store", store)
	if code != 0 || !strings.Contains(out, "OK: 1 streams") ||
		!strings.Contains(out, "segments encrypted with key(s) "+oldID+", "+newID+": structure and chain verified, contents not decrypted (give the key to verify them)") ||
		!strings.Contains(out, "snapshot "+snapID+" encrypted with key "+oldID+": not verified") || !strings.Contains(out, "NOTICE:") {
		t.Fatalf("verify without a key: exit %d, want 0 with the notice\n%s%s", code, out, errOut)
	}
	// With the keys, the plaintext segments from before encryption are
	// refused until --allow-unencrypted says they are expected.
	code, out, errOut = replayer(t, "verify", "--store", store, "--encryption-key-file", rotated)
	if code != 4 || !strings.Contains(out, "PROBLEM") || !strings.Contains(out, "not encrypted but encryption is required: if it predates encryption pass --allow-unencrypted") {
		t.Fatalf("verify with keys over plaintext segments: exit %d, want 4 naming --allow-unencrypted\n%s%s", code, out, errOut)
	}
	code, out, errOut = replayer(t, "verify", "--store", store, "--encryption-key-file", rotated, "--allow-unencrypted")
	if code != 0 || !strings.Contains(out, "OK: 1 streams") || !strings.Contains(out, "1 snapshots verified") || strings.Contains(out, "NOTICE") {
		t.Fatalf("verify with every key: exit %d\n%s%s", code, out, errOut)
	}
	// The keys in the environment instead: the same; both ways at once: bad usage.
	t.Setenv(crypt.EnvVar, readKey(t, newKey)+","+readKey(t, oldKey))
	code, out, errOut = replayer(t, "verify", "--store", store, "--allow-unencrypted")
	if code != 0 || strings.Contains(out, "NOTICE") {
		t.Fatalf("verify with the keys in %s: exit %d\n%s%s", crypt.EnvVar, code, out, errOut)
	}
	code, _, errOut = replayer(t, "verify", "--store", store, "--encryption-key-file", rotated)
	if code != 2 || !strings.Contains(errOut, "both --encryption-key-file and "+crypt.EnvVar) {
		t.Fatalf("verify with a key file and %s: exit %d, want 2\n%s", crypt.EnvVar, code, errOut)
	}
	os.Unsetenv(crypt.EnvVar) // set but empty would be an error; t.Setenv restores it after the test
	// Only the new key: the old key's objects need a key not given.
	code, out, errOut = replayer(t, "verify", "--store", store, "--encryption-key-file", newKey, "--allow-unencrypted")
	if code != 2 || !strings.Contains(errOut, "wrong key") || !strings.Contains(errOut, oldID) || !strings.Contains(errOut, newID) {
		t.Fatalf("verify with only the new key: exit %d, want 2 naming key %s (needed) and %s (given)\n%s%s", code, oldID, newID, out, errOut)
	}
	for _, leak := range []string{readKey(t, oldKey), readKey(t, newKey)} {
		if strings.Contains(out+errOut, leak) {
			t.Fatal("verify printed a key")
		}
	}
}

func checkEncryptedRestores(t *testing.T, store, newKey, rotated string, points []recorded, oldID string) {
	t.Helper()
	target := testserver.StartT(t, testserver.Options{NoOplog: true})
	tc, err := target.Client()
	must(t, err)
	defer tc.Disconnect(context.Background())
	restoreTo := func(p recorded, extra ...string) (int, string, string) {
		return replayer(t, append([]string{"restore", "--store", store, "--target", target.URI, "--to", p.ts.String()}, extra...)...)
	}
	last := points[len(points)-1]

	// Failures first, on the empty target: nothing is written by any.
	if code, out, errOut := restoreTo(last); code != 2 || !strings.Contains(errOut, "is encrypted with key") ||
		!strings.Contains(errOut, "give the key (tailerd/replayer --encryption-key-file FILE or "+crypt.EnvVar+")") {
		t.Fatalf("restore without a key: exit %d, want 2 asking for the key\n%s%s", code, out, errOut)
	}
	if code, out, errOut := restoreTo(last, "--encryption-key-file", newKey, "--allow-unencrypted"); code != 2 ||
		!strings.Contains(errOut, "wrong key") || !strings.Contains(errOut, oldID) {
		t.Fatalf("restore across the rotation with only the new key: exit %d, want 2 naming key %s\n%s%s", code, oldID, out, errOut)
	}
	if code, out, errOut := restoreTo(points[0], "--encryption-key-file", rotated); code != 4 || !strings.Contains(errOut, "--allow-unencrypted") {
		t.Fatalf("restore from plaintext segments with keys: exit %d, want 4 naming --allow-unencrypted\n%s%s", code, out, errOut)
	}
	if s := mustDump(t, tc); s.Documents() != 0 {
		t.Fatalf("failed restores wrote %d documents", s.Documents())
	}

	// Point 0 from the plaintext start of capture, point 1 from the
	// encrypted snapshot, point 2 across the rotation; the last needs no
	// plaintext (its base is the snapshot), so no --allow-unencrypted.
	for i, extra := range [][]string{
		{"--encryption-key-file", rotated, "--allow-unencrypted"},
		{"--encryption-key-file", rotated, "--allow-unencrypted", "--drop"},
		{"--encryption-key-file", rotated, "--drop"},
	} {
		code, out, errOut := restoreTo(points[i], extra...)
		if code != 0 {
			t.Fatalf("restore to point %d (%s) %v: exit %d\n%s%s", i, points[i].ts, extra, code, out, errOut)
		}
		if i > 0 && !strings.Contains(out, "from snapshot ") {
			t.Errorf("restore to point %d did not start from the encrypted snapshot:\n%s", i, out)
		}
		if d := workload.Diff(points[i].state, mustDump(t, tc)); d != "" {
			t.Errorf("restore to point %d (%s) differs from the source then:\n%s", i, points[i].ts, d)
		}
	}
	var doc bson.M
	must(t, tc.Database("app").Collection("events").FindOne(context.Background(), bson.D{{Key: "_id", Value: "m-secret"}}).Decode(&doc))
	if doc["v"] != secretMarker {
		t.Fatalf("the secret value restored as %v", doc["v"])
	}
}

// checkTamperedSegment damages a copy of the store's newest segment: a
// flipped bit is caught by the file checksum with or without the key; the
// same flip with the checksums recomputed (the layout is public) still
// fails the authentication, with the key; both reports name the segment.
func checkTamperedSegment(t *testing.T, store, rotated string) {
	t.Helper()
	for _, recompute := range []bool{false, true} {
		cp := filepath.Join(t.TempDir(), "store")
		copyDir(t, store, cp)
		files, err := filepath.Glob(filepath.Join(cp, "streams", testserver.ReplicaSet, "segments", "*.tseg"))
		must(t, err)
		slices.Sort(files)
		victim := files[len(files)-1] // the newest: no segment links to its checksum
		data, err := os.ReadFile(victim)
		must(t, err)
		fh, err := os.Open(victim)
		must(t, err)
		_, hlen, err := segment.ReadHeader(fh)
		fh.Close()
		must(t, err)
		data[hlen+(int64(len(data))-hlen-segment.TrailerSize)/2] ^= 0x04 // a ciphertext bit
		if recompute {
			binary.LittleEndian.PutUint32(data[len(data)-4:], crc32.Checksum(data[:len(data)-4], crc32.MakeTable(crc32.Castagnoli)))
		}
		must(t, os.WriteFile(victim, data, 0o644))
		name := filepath.Base(victim)
		code, out, errOut := replayer(t, "verify", "--store", cp, "--encryption-key-file", rotated, "--allow-unencrypted")
		if code != 4 || !strings.Contains(out, "PROBLEM") || !strings.Contains(out, name) {
			t.Fatalf("verify with the key of a tampered segment (checksums recomputed: %v): exit %d, want 4 naming %s\n%s%s", recompute, code, name, out, errOut)
		}
		if !recompute {
			if code, out, errOut := replayer(t, "verify", "--store", cp); code != 4 || !strings.Contains(out, name) {
				t.Fatalf("verify without the key of a segment with a flipped bit: exit %d, want 4 naming %s\n%s%s", code, name, out, errOut)
			}
		}
	}
}

// The same on S3 (MinIO): no object in the bucket holds a value written to
// the source, verify without the key passes with its notice, and a restore
// with the key from the bucket alone equals the source.
func TestEncryptionOnS3(t *testing.T) {
	ctx := context.Background()
	src := testserver.StartT(t, testserver.Options{})
	client, err := src.Client()
	must(t, err)
	defer client.Disconnect(ctx)
	m, loc := startS3(t, "enc/rs0")
	key := filepath.Join(t.TempDir(), "s3.key")
	id := genkey(t, key)

	_, err = client.Database("app").Collection("events").InsertOne(ctx, bson.D{{Key: "_id", Value: "m-secret"}, {Key: "v", Value: secretMarker}})
	must(t, err)
	c := captureWithSnapshot(t, src, client, loc, "--encryption-key-file", key)

	mc, err := m.Client()
	must(t, err)
	objects := 0
	for obj := range mc.ListObjectsIter(ctx, s3Bucket, minio.ListObjectsOptions{Recursive: true}) {
		must(t, obj.Err)
		o, err := mc.GetObject(ctx, s3Bucket, obj.Key, minio.GetObjectOptions{})
		must(t, err)
		data, err := io.ReadAll(o)
		o.Close()
		must(t, err)
		if bytes.Contains(data, []byte(secretMarker)) {
			t.Errorf("object %s holds the secret value in the clear", obj.Key)
		}
		objects++
	}
	if objects < 5 {
		t.Fatalf("only %d objects in the bucket", objects)
	}

	code, out, errOut := replayer(t, "verify", "--store", loc)
	if code != 0 || !strings.Contains(out, "encrypted with key(s) "+id+": structure and chain verified") || !strings.Contains(out, "NOTICE:") {
		t.Fatalf("verify without the key: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = replayer(t, "verify", "--store", loc, "--encryption-key-file", key)
	if code != 0 || !strings.Contains(out, "1 snapshots verified") || strings.Contains(out, "NOTICE") {
		t.Fatalf("verify with the key: exit %d\n%s%s", code, out, errOut)
	}
	last := c.points[len(c.points)-1]
	target := testserver.StartT(t, testserver.Options{NoOplog: true})
	code, out, errOut = replayer(t, "restore", "--store", loc, "--target", target.URI, "--to", last.ts.String(), "--encryption-key-file", key)
	if code != 0 || !strings.Contains(out, "from snapshot ") {
		t.Fatalf("restore with the key: exit %d\n%s%s", code, out, errOut)
	}
	tc, err := target.Client()
	must(t, err)
	defer tc.Disconnect(ctx)
	if d := workload.Diff(last.state, mustDump(t, tc)); d != "" {
		t.Errorf("restore from the encrypted bucket differs from the source:\n%s", d)
	}
}
