package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tidelog/tidelog/topology"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tailerd.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigFileAndFlags(t *testing.T) {
	p := writeConfig(t, "source: mongodb://db:27017/?replicaSet=rs0\nstore: /var/lib/tidelog\ncut_age: 3s\ncut_bytes: 1048576\ncursor: poll\n")
	c, err := parseArgs([]string{"--config", p, "--cut-age", "5s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Source != "mongodb://db:27017/?replicaSet=rs0" || c.Store != "/var/lib/tidelog" || c.tailer.CutBytes != 1<<20 || c.tailer.Cursor != "poll" {
		t.Errorf("settings from the file not applied: %+v", c)
	}
	if c.tailer.CutAge != 5*time.Second {
		t.Errorf("cut age %s: the flag must win over the file", c.tailer.CutAge)
	}
}

func TestConfigFileErrors(t *testing.T) {
	cases := map[string]string{
		"cut_agee: 3s\n":  "cut_agee", // misspelt key
		"cut_age: soon\n": "soon",     // bad value, named with its line
		"source: [1, 2\n": "yaml",     // malformed
		"cursor: sideways\nsource: mongodb://x\nstore: /s\n": "cursor (in config ",
	}
	for body, says := range cases {
		_, err := parseArgs([]string{"--config", writeConfig(t, body)}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("config %q: error %v, want one mentioning %q", body, err, says)
		}
	}
	if _, err := parseArgs([]string{"--config", "/nonexistent/tailerd.yaml"}, io.Discard); err == nil {
		t.Error("a missing config file must be an error")
	}
}

// The source URI is logged only through topology.RedactURI: the password
// and secret options never reach a log line.
func TestRedact(t *testing.T) {
	got := topology.RedactURI("mongodb://backup:s3cret@db:27017/?replicaSet=rs0&tlsCertificateKeyFilePassword=k3y")
	if strings.Contains(got, "s3cret") || strings.Contains(got, "k3y") || !strings.Contains(got, "backup") {
		t.Errorf("redacted URI kept a secret or lost the user: %s", got)
	}
}

func TestSourceAndMembers(t *testing.T) {
	c, err := parseArgs([]string{"--store", "/s", "--member", "shard1=mongodb://h1:27018/?replicaSet=rs1",
		"--member", "cfg=mongodb://h0:27019/?replicaSet=cfg"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Members) != 2 || c.Members[0].Name != "shard1" || c.Members[1].URI != "mongodb://h0:27019/?replicaSet=cfg" {
		t.Errorf("members: %+v", c.Members)
	}
	p := writeConfig(t, "store: /s\nmembers:\n  - name: cfg\n    uri: mongodb://h0:27019/?replicaSet=cfg\n    role: config\n  - name: shard1\n    uri: mongodb://h1:27018/?replicaSet=rs1\n")
	c, err = parseArgs([]string{"--config", p}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if tp, err := c.staticTopology(); err != nil || len(tp.ReplicaSets) != 2 || tp.ReplicaSets[0].Role != topology.RoleConfig {
		t.Errorf("members from the file: %+v, %v", tp, err)
	}

	bad := map[string][]string{
		"exclude each other": {"--source", "mongodb://h:1/", "--member", "a=mongodb://h:2/"},
		"want NAME=URI":      {"--member", "mongodb://h:2/"},
		"--stream does not":  {"--member", "a=mongodb://h:2/", "--stream", "x"},
		"--source-kind":      {"--source", "mongodb://h:1/", "--source-kind", "router"},
		"invalid stream":     {"--member", "a/b=mongodb://h:2/"},
		"two replica sets":   {"--member", "a=mongodb://h:2/", "--member", "a=mongodb://h:3/"},
		"not a valid":        {"--member", "a=mongo://h:2/"},
		"--discover-every":   {"--source", "mongodb://h:1/", "--discover-every", "-1s"},
	}
	for says, args := range bad {
		_, err := parseArgs(append(args, "--store", "/s"), io.Discard)
		if err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("%v: error %v, want one saying %q", args, err, says)
		}
	}
}

func TestPublishTo(t *testing.T) {
	c, err := parseArgs([]string{"--source", "mongodb://h:1/", "--store", "/s", "--spool", "/spool",
		"--publish-to", "standby=kafka://127.0.0.1:9092/tl", "--publish-to", "pitr=s3://bucket/p?endpoint=127.0.0.1:9000"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.PublishTo) != 2 || c.PublishTo[0].Name != "standby" || c.SpoolMaxBytes != 1<<30 {
		t.Errorf("fan-out settings: %+v, max %d", c.PublishTo, c.SpoolMaxBytes)
	}
	bad := map[string][]string{
		"needs --spool":    {"--publish-to", "a=/x"},
		"is for fan-out":   {"--spool", "/spool"},
		"NAME=LOCATION":    {"--publish-to", "/x", "--spool", "/spool"},
		"name used twice":  {"--publish-to", "store=/x", "--spool", "/spool"},
		"only letters":     {"--publish-to", "a b=/x", "--spool", "/spool"},
		"at least 1 MiB":   {"--publish-to", "a=/x", "--spool", "/spool", "--spool-max-bytes", "1000"},
		"of its own":       {"--publish-to", "a=/x", "--spool", "/s"},
		"--publish-to kaf": {"--publish-to", "kaf=kafka://", "--spool", "/spool"},
	}
	for says, args := range bad {
		_, err := parseArgs(append(args, "--source", "mongodb://h:1/", "--store", "/s"), io.Discard)
		if err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("%v: error %v, want one saying %q", args, err, says)
		}
	}
}
