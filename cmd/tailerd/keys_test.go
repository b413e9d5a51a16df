package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tidelog/tidelog/crypt"
)

// Keys come from encryption_key_file (or its flag) or the environment, one
// way only; the log names the key id, never the key.
func TestEncryptionKeySettings(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "keys")
	if code := runGenkey([]string{"-o", keyFile}, io.Discard, io.Discard); code != exitOK {
		t.Fatalf("genkey: exit %d", code)
	}
	kr, err := crypt.LoadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	base := []string{"--source", "mongodb://db:27017/?replicaSet=rs0", "--store", dir}

	c, err := parseArgs(append(base, "--config", writeConfig(t, "encryption_key_file: "+keyFile+"\n")), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.keys.Primary().ID() != kr.Primary().ID() || c.tailer.Keys != c.keys || c.cycle().Snapshot.Keys != c.keys || len(c.warnings) != 0 {
		t.Fatalf("keys from the config file: %v, tailer %v, warnings %q", c.keys, c.tailer.Keys, c.warnings)
	}
	var log bytes.Buffer
	logEncryption(zerolog.New(&log), c)
	data, _ := os.ReadFile(keyFile)
	key := strings.TrimSpace(string(data[bytes.IndexByte(data, '\n')+1:]))
	if want := "encrypting with key " + kr.Primary().ID().String() + " (1 keys loaded)"; !strings.Contains(log.String(), want) || strings.Contains(log.String(), key) {
		t.Fatalf("start log %q: want %q and not the key", log.String(), want)
	}

	t.Setenv(crypt.EnvVar, key)
	if _, err := parseArgs(append(base, "--encryption-key-file", keyFile), io.Discard); err == nil ||
		!strings.Contains(err.Error(), "--encryption-key-file and the environment variable "+crypt.EnvVar+" are both given") {
		t.Fatalf("file and environment: %v", err)
	}
	c, err = parseArgs(base, io.Discard)
	if err != nil || c.keys.Primary().ID() != kr.Primary().ID() {
		t.Fatalf("keys from the environment: %v, %v", c.keys, err)
	}
	// Set but empty (a template that expanded to nothing) is not "no key".
	t.Setenv(crypt.EnvVar, " ")
	if _, err := parseArgs(base, io.Discard); err == nil || !strings.Contains(err.Error(), crypt.EnvVar+" is set but holds no key: give the keys or unset it") {
		t.Fatalf("an empty %s: %v", crypt.EnvVar, err)
	}
	os.Unsetenv(crypt.EnvVar) // t.Setenv restores it after the test

	if err := os.Chmod(keyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err = parseArgs(append(base, "--encryption-key-file", keyFile), io.Discard)
	if err != nil || len(c.warnings) != 1 || !strings.Contains(c.warnings[0], "chmod 600 "+keyFile) {
		t.Fatalf("a key file others can read: %v, warnings %q", err, c.warnings)
	}

	c, err = parseArgs(base, io.Discard)
	log.Reset()
	logEncryption(zerolog.New(&log), c)
	if err != nil || c.keys != nil || !strings.Contains(log.String(), "stored unencrypted") {
		t.Fatalf("no key: %v, %v, log %q", c.keys, err, log.String())
	}

	// A changed key file is reported at SIGHUP as needing a restart.
	next, err := parseArgs(append(base, "--encryption-key-file", keyFile), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if ch, ok := keysChanged(c, next); !ok || ch.Why != "needs a restart" || strings.Contains(ch.New, key) || !strings.Contains(ch.New, kr.Primary().ID().String()) {
		t.Fatalf("keys changed: %+v %v", ch, ok)
	}
}

// genkey writes a 0600 file and never overwrites one.
func TestGenkey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k")
	var stderr bytes.Buffer
	if code := runGenkey([]string{"-o", path}, io.Discard, &stderr); code != exitOK {
		t.Fatalf("genkey: exit %d: %s", code, stderr.String())
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v", err, fi.Mode())
	}
	kr, err := crypt.LoadFile(path)
	if err != nil || !strings.Contains(stderr.String(), "key id "+kr.Primary().ID().String()) {
		t.Fatalf("key %v, %v; stderr %q", kr, err, stderr.String())
	}
	before, _ := os.ReadFile(path)
	stderr.Reset()
	if code := runGenkey([]string{"-o", path}, io.Discard, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "already exists") {
		t.Fatalf("genkey over an existing file: exit %d: %s", code, stderr.String())
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("genkey changed an existing key file")
	}
	var stdout bytes.Buffer
	if code := runGenkey(nil, &stdout, io.Discard); code != exitOK {
		t.Fatalf("genkey to stdout: exit %d", code)
	}
	if _, err := crypt.Parse(stdout.Bytes()); err != nil {
		t.Fatalf("genkey's output %q: %v", stdout.String(), err)
	}
}

// /status and `tailerd status` say how segments and snapshots are stored:
// the ids of the keys in use, the encrypting one first, never a key; or
// "none".
func TestStatusShowsEncryptionKeyIDs(t *testing.T) {
	current, old := crypt.NewKey(), crypt.NewKey()
	kr, err := crypt.NewKeyring(current, old)
	if err != nil {
		t.Fatal(err)
	}
	cfg := config{fileConfig: fileConfig{Store: "/var/lib/tidelog/store", LogLevel: "info"}, keys: kr}
	doc := pipelinesWith(time.Now()).status(cfg, nil, "info", time.Now())
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []crypt.Key{current, old} {
		if bytes.Contains(data, []byte(crypt.FormatKey(k))) {
			t.Fatalf("/status shows a key: %s", data)
		}
	}
	var back statusDoc
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	cid, oid := current.ID().String(), old.ID().String()
	if back.Config.Encryption != cid || !slices.Equal(back.Config.EncryptionKeyIDs, []string{cid, oid}) {
		t.Errorf("/status encryption %q, key ids %v; want %s and [%s %s]", back.Config.Encryption, back.Config.EncryptionKeyIDs, cid, cid, oid)
	}
	if out := formatStatus(back); !strings.Contains(out, "encryption key "+cid+" (keys loaded: "+cid+", "+oid+"; the others decrypt only)") {
		t.Errorf("tailerd status:\n%s", out)
	}

	cfg.keys = nil
	plain := pipelinesWith(time.Now()).status(cfg, nil, "info", time.Now())
	if data, _ := json.Marshal(plain.Config); !bytes.Contains(data, []byte(`"encryption":"none"`)) || bytes.Contains(data, []byte("encryption_key_ids")) {
		t.Errorf("/status config without keys: %s", data)
	}
	if out := formatStatus(plain); !strings.Contains(out, "encryption none: segments and snapshots are stored unencrypted") {
		t.Errorf("tailerd status without keys:\n%s", out)
	}
}
