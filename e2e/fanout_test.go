package e2e

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/internal/workload"
	"github.com/tidelog/tidelog/oplog"
)

// One tailerd publishes to a directory, S3 and Kafka through a spool. S3
// goes down under writes, long enough to fill the small spool: the
// directory and Kafka stay current while the spool has room, then capture
// pauses (nothing dropped); once S3 is back, every store holds the source's
// oplog entry for entry, and restores from each (S3's from the bucket
// alone) give the recorded states.
func TestFanOutRidesOutOneStoreDown(t *testing.T) {
	ctx := context.Background()
	src := testserver.StartT(t, testserver.Options{})
	client, err := src.Client()
	must(t, err)
	defer client.Disconnect(ctx)
	m, s3Loc := startS3(t, "fanout")
	kc, err := kfake.NewCluster(kfake.NumBrokers(1),
		kfake.BrokerConfigs(map[string]string{"message.max.bytes": strconv.Itoa(kafkaMaxBytes)}))
	must(t, err)
	t.Cleanup(kc.Close)
	kafkaLoc := "kafka://" + strings.Join(kc.ListenAddrs(), ",") + "/fanout?max_message_bytes=" + strconv.Itoa(kafkaMaxBytes)

	work := t.TempDir()
	dir := filepath.Join(work, "store")
	logPath := filepath.Join(work, "tailerd.log")
	d := startTailerd(t, logPath, "--source", src.URI, "--store", dir,
		"--publish-to", "s3="+s3Loc, "--publish-to", "standby="+kafkaLoc,
		"--spool", filepath.Join(work, "spool"), "--spool-max-bytes", strconv.Itoa(1<<20),
		"--cut-age", "300ms", "--cut-bytes", "65536")
	stores := map[string]string{"dir": dir, "s3": s3Loc, "kafka": kafkaLoc}

	w := workload.New(client, 31)
	var points []recorded
	record := func() { points = append(points, recorded{ts: lastTS(t, src, client), state: mustDump(t, client)}) }
	must(t, w.Step(ctx, 150))
	record()
	for _, loc := range stores {
		waitRestorable(t, loc, logPath, points[0].ts)
	}

	must(t, m.Stop())
	must(t, w.Step(ctx, 100))
	record()
	// S3 is down: the others still get the new segments.
	waitRestorable(t, dir, logPath, points[1].ts)
	waitRestorable(t, kafkaLoc, logPath, points[1].ts)
	// More than the spool holds: capture must pause, and wait.
	began := time.Now()
	phase := func(what string) { t.Logf("%6.1fs %s", time.Since(began).Seconds(), what) }
	// Incompressible documents fill the 1 MiB spool in a few entries.
	blobs := client.Database("app").Collection("blobs")
	full := func() bool { return d.Logged("spool full: capture is paused") }
	for i := 0; !full(); i++ {
		if i == 20 { // bounded: 20 MiB at most
			t.Fatalf("the spool never filled\n%s", logTail(logPath))
		}
		payload := make([]byte, 256<<10)
		_, _ = rand.Read(payload)
		_, err := blobs.InsertOne(ctx, bson.D{{Key: "_id", Value: i}, {Key: "data", Value: payload}})
		must(t, err)
		deadline := time.Now().Add(2 * time.Second)
		for !full() && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
	}
	must(t, w.Step(ctx, 50))
	record()
	if through := restorableThrough(t, dir); !through.Before(points[2].ts) {
		t.Errorf("the directory store is restorable through %s with the spool full: capture did not pause", through)
	}

	restartCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	phase("spool full")
	must(t, m.Restart(restartCtx))
	must(t, w.Step(ctx, 100))
	record()
	for _, loc := range stores {
		waitRestorable(t, loc, logPath, points[3].ts)
	}
	phase("caught up")
	if code := d.stop(t); code != 0 {
		t.Fatalf("tailerd exited %d on SIGTERM\n%s", code, logTail(logPath))
	}
	for _, line := range [][]string{
		{`"dest":"s3"`, "store request failed; retrying"},
		{`"held_by":"s3 (`, "spool full: capture is paused"},
		{`"held_by":"s3 (`, "spool has room again; capture resumed"},
	} {
		if !d.Logged(line...) {
			t.Errorf("tailerd's log lacks a line with %q\n%s", line, logTail(logPath))
		}
	}

	want := sourceOplog(t, client, oplog.Timestamp{}, points[3].ts)
	for name, loc := range stores {
		if code, out, errOut := replayer(t, "verify", "--store", loc); code != 0 {
			t.Fatalf("verify %s: exit %d\n%s%s", name, code, out, errOut)
		}
		out := filepath.Join(work, name+".bson")
		if code, stdout, errOut := replayer(t, "export", "--store", loc, "--to", points[3].ts.String(), "--out", out); code != 0 {
			t.Fatalf("export %s: exit %d\n%s%s", name, code, stdout, errOut)
		}
		sameEntries(t, name+" store", readBSONFile(t, out), want)
	}
	phase("exported")
	for _, p := range points {
		restoreAndCompare(t, s3Loc, p, "")
	}
	phase("restored")
	restoreAndCompare(t, kafkaLoc, points[2], "")
}

// restorableThrough is the end of the one stream's restorable window.
func restorableThrough(t *testing.T, store string) oplog.Timestamp {
	t.Helper()
	l := list(t, store)
	if len(l.Streams) != 1 || l.Streams[0].Restorable == nil {
		return oplog.Timestamp{}
	}
	ts, err := oplog.Parse(l.Streams[0].Restorable.To)
	must(t, err)
	return ts
}
