package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/tidelog/tidelog/internal/testserver"
)

const testSource = "mongodb://127.0.0.1:1/?replicaSet=rs0"

func TestStoreLocationAndCheckpoint(t *testing.T) {
	for _, tc := range []struct {
		args []string
		ckpt string // want this checkpoint directory, or
		says string // an error saying this
	}{
		{[]string{"--store", "/srv/store"}, "/srv/store/checkpoint", ""},
		{[]string{"--store", "file:///srv/store"}, "/srv/store/checkpoint", ""},
		{[]string{"--store", "/srv/store", "--checkpoint", "/var/ckpt"}, "/var/ckpt", ""},
		{[]string{"--store", "s3://bkt/prod?endpoint=127.0.0.1:9000&tls=false", "--checkpoint", "/var/ckpt"}, "/var/ckpt", ""},
		{[]string{"--store", "kafka://k1:9092,k2:9092/tidelog", "--checkpoint", "/var/ckpt"}, "/var/ckpt", ""},
		{[]string{"--store", "s3://bkt/prod?endpoint=127.0.0.1:9000"}, "", "--checkpoint DIR is required for s3 stores"},
		{[]string{"--store", "kafka://k1:9092"}, "", "--checkpoint DIR is required for kafka stores"},
		{[]string{"--store", "s3://key:hunter2secret@bkt/prod", "--checkpoint", "/c"}, "", "AWS_ACCESS_KEY_ID"},
		{[]string{"--store", "gs://bkt/prod", "--checkpoint", "/c"}, "", "kafka://"},
		{[]string{"--store", "s3://bkt?regoin=x", "--checkpoint", "/c"}, "", "unknown parameter regoin"},
	} {
		c, err := parseArgs(append([]string{"--source", testSource}, tc.args...), io.Discard)
		switch {
		case tc.says == "" && err != nil:
			t.Errorf("%v: %v", tc.args, err)
		case tc.says == "" && c.Checkpoint != tc.ckpt:
			t.Errorf("%v: checkpoint %q, want %q", tc.args, c.Checkpoint, tc.ckpt)
		case tc.says != "" && (err == nil || !strings.Contains(err.Error(), tc.says)):
			t.Errorf("%v: error %v, want one saying %q", tc.args, err, tc.says)
		case err != nil && strings.Contains(err.Error(), "hunter2secret"):
			t.Errorf("%v: the error repeats the secret: %v", tc.args, err)
		}
	}
}

func TestStoreURLFromConfigFile(t *testing.T) {
	p := writeConfig(t, "source: "+testSource+"\nstore: kafka://k1:9092/prod?replication_factor=3\ncheckpoint: /var/ckpt\n")
	c, err := parseArgs([]string{"--config", p}, io.Discard)
	if err != nil || c.Store != "kafka://k1:9092/prod?replication_factor=3" || c.Checkpoint != "/var/ckpt" {
		t.Errorf("store from the file: %+v, %v", c.fileConfig, err)
	}
	p = writeConfig(t, "source: "+testSource+"\nstore: s3://bkt/prod\n")
	if _, err := parseArgs([]string{"--config", p}, io.Discard); err == nil || !strings.Contains(err.Error(), "--checkpoint") {
		t.Errorf("an s3 store from the file without a checkpoint: %v, want an error naming --checkpoint", err)
	}
}

// A bad location is bad usage (exit 2), before anything is opened.
func TestStoreExitCodes(t *testing.T) {
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"--source", testSource, "--store", "kafka://k1:9092"}, &stderr); code != exitUsage {
		t.Errorf("kafka store without --checkpoint: exit %d, want %d\n%s", code, exitUsage, stderr.String())
	}
}

// A store that answers and refuses (a Kafka broker rejecting the client's
// certificate with a TLS alert) is not an outage: a restart does not mend
// it, so tailerd exits with the store's code, which systemd does not retry.
func TestStoreRefusingTLSIsNotAnOutage(t *testing.T) {
	pki := testserver.NewPKIT(t)
	srv, err := pki.ServerTLS(true)
	if err != nil {
		t.Fatal(err)
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.TLS(srv))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	loc := "kafka://" + c.ListenAddrs()[0] + "/tidelog?tls=true&ca_file=" + pki.CAFile // no client certificate
	code := run(ctx, []string{"--source", testSource, "--store", loc, "--checkpoint", filepath.Join(t.TempDir(), "ckpt")}, &stderr)
	if code != exitStore || !strings.Contains(stderr.String(), "client certificate") {
		t.Errorf("store refusing the client certificate: exit %d, want %d\n%s", code, exitStore, stderr.String())
	}
}
