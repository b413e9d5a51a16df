package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/store/spool"
	"github.com/tidelog/tidelog/store/storeurl"

	"github.com/tidelog/tidelog/internal/testlog"
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
	loc := refusingKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	code := run(ctx, []string{"--source", testSource, "--store", loc, "--checkpoint", filepath.Join(t.TempDir(), "ckpt")}, &stderr)
	if code != exitStore || !strings.Contains(stderr.String(), "client certificate") {
		t.Errorf("store refusing the client certificate: exit %d, want %d\n%s", code, exitStore, stderr.String())
	}
}

// refusingKafka starts a Kafka broker that requires a client certificate
// and returns a store location that trusts the broker but gives none: the
// broker answers, and refuses the client with a TLS alert.
func refusingKafka(t *testing.T) string {
	t.Helper()
	pki := testserver.NewPKIT(t)
	srv, err := pki.ServerTLS(true)
	if err != nil {
		t.Fatal(err)
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.TLS(srv))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return "kafka://" + c.ListenAddrs()[0] + "/tidelog?tls=true&ca_file=" + pki.CAFile
}

// segmentName is a valid segment name for store tests.
const segmentName = "1700000000.0000000001-1700000000.0000000002.tseg"

// A --publish-to store that cannot be reached at start does not hold the
// start up: the spool opens, puts reach --store, the destination shows as
// failing and not open; once its broker is up, the publisher opens it and
// it gets what waited in the spool.
func TestPublishToDownAtStartIsOpenedLater(t *testing.T) {
	port := freeLoopbackPort(t)
	work := t.TempDir()
	dir := filepath.Join(work, "store")
	kafkaLoc := "kafka://127.0.0.1:" + strconv.Itoa(port) + "/later"
	c, err := parseArgs([]string{"--source", testSource, "--store", dir, "--spool", filepath.Join(work, "spool"),
		"--publish-to", "standby=" + kafkaLoc}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var log testlog.Buffer
	st, closeStores, err := openStores(ctx, c, zerolog.New(&log), false)
	if err != nil {
		t.Fatalf("openStores with --publish-to down: %v\n%s", err, log.String())
	}
	defer closeStores()
	sp, ok := st.(*spool.Spool)
	if !ok {
		t.Fatalf("openStores returned %T, want the spool", st)
	}
	standby := func() spool.DestStatus {
		for _, d := range sp.Status().Dests {
			if d.Name == "standby" {
				return d
			}
		}
		t.Fatalf("no destination standby in %+v", sp.Status())
		return spool.DestStatus{}
	}
	if d := standby(); d.Open || d.FailingSince.IsZero() || !strings.Contains(d.LastError, "connection refused") {
		t.Errorf("status of the unreachable destination: %+v", d)
	}
	for _, want := range []string{"--publish-to standby cannot be reached at start", "destination not open"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the log lacks %q\n%s", want, log.String())
		}
	}
	data := []byte("segment bytes")
	if err := st.PutSegment(ctx, "rs0", segmentName, data); err != nil {
		t.Fatal(err)
	}
	primary, err := storeurl.Open(ctx, dir, storeurl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "the segment in --store", &log, func() bool {
		names, err := primary.Segments(ctx, "rs0")
		return err == nil && len(names) == 1
	})
	if d := standby(); d.Pending != 1 || d.Open {
		t.Errorf("the unreachable destination's backlog: %+v", d)
	}

	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	waitUntil(t, time.Minute, "the standby to be opened and caught up", &log, func() bool {
		d := standby()
		return d.Open && d.Pending == 0 && d.FailingSince.IsZero()
	})
	k, err := storeurl.Open(ctx, kafkaLoc, storeurl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer storeurl.Close(k)
	rc, err := k.OpenSegment(ctx, "rs0", segmentName)
	if err != nil {
		t.Fatalf("the standby lacks the segment put while it was down: %v\n%s", err, log.String())
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the standby's copy: %q, %v", got, err)
	}
}

// A --publish-to store that answers no (here a broker refusing the client
// without a certificate) still fails the start with the store's exit code:
// waiting would not mend it.
func TestPublishToRefusingFailsTheStart(t *testing.T) {
	loc := refusingKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	work := t.TempDir()
	var stderr bytes.Buffer
	code := run(ctx, []string{"--source", testSource, "--store", filepath.Join(work, "store"), "--spool", filepath.Join(work, "spool"),
		"--publish-to", "standby=" + loc}, &stderr)
	if code != exitStore || !strings.Contains(stderr.String(), "--publish-to standby") || !strings.Contains(stderr.String(), "client certificate") {
		t.Errorf("--publish-to store refusing the client certificate: exit %d, want %d naming it\n%s", code, exitStore, stderr.String())
	}
}

// With its --publish-to store unreachable, tailerd goes on past the stores
// at once (here to the source, which is not there either: exit 4) instead
// of waiting for that store.
func TestPublishToDownDoesNotHoldTheStart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	work := t.TempDir()
	var log testlog.Buffer
	code := run(ctx, []string{"--source", testSource, "--connect-timeout", "1s", "--store", filepath.Join(work, "store"),
		"--spool", filepath.Join(work, "spool"), "--publish-to", "standby=kafka://127.0.0.1:" + strconv.Itoa(freeLoopbackPort(t)) + "/tl"}, &log)
	if code != exitSource || strings.Contains(log.String(), "the store cannot be reached; tailerd keeps trying") ||
		!strings.Contains(log.String(), "--publish-to standby cannot be reached at start") {
		t.Errorf("--publish-to down at start: exit %d, want %d (the source) without waiting for that store\n%s", code, exitSource, log.String())
	}
}
