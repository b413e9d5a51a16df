package chaos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/oplog"
)

// run is one chaos run: the servers, tailerd, the writer, what was
// injected and what the run learnt independently of tailerd (the gaps).
type run struct {
	t     *testing.T
	p     profile
	seed  uint64
	rng   *rand.Rand
	began time.Time

	src    *testserver.Server
	client *mongo.Client
	st     *stores
	w      *writer

	work     string
	fsDir    string // the spool's small filesystem
	spool    string
	ckpt     string
	logPath  string
	httpAddr string

	d         *tailerd
	acceptGap bool  // the next start passes --accept-gap
	gaps      []gap // rollovers, positions computed from the source and the store
	fig       figures
}

// args is tailerd's command line: MinIO as the store, a local mirror as a
// second destination, both fed through the spool on the small filesystem.
func (r *run) args() []string {
	a := []string{
		"--source", r.src.URI, "--store", r.st.loc(), "--checkpoint", r.ckpt,
		"--publish-to", "mirror=" + r.st.mirror, "--spool", r.spool, "--spool-max-bytes", strconv.Itoa(4 << 20),
		"--cut-age", "500ms", "--cut-bytes", strconv.Itoa(256 << 10),
		"--snapshot-every", r.p.snapEvery.String(), "--connect-timeout", "10s",
		"--http-addr", r.httpAddr,
	}
	if r.acceptGap {
		a = append(a, "--accept-gap")
	}
	return a
}

// start starts tailerd; the previous run must have ended.
func (r *run) start() {
	r.t.Helper()
	if r.d != nil && !r.d.Exited() {
		r.t.Fatal("harness: starting tailerd while one runs")
	}
	d, err := startTailerd(r.logPath, r.st.env(), r.args()...)
	if err != nil {
		r.t.Fatalf("start tailerd: %v", err)
	}
	r.d = d
	r.fig.starts++
}

// waitTailing waits until this run of tailerd reads the oplog.
func (r *run) waitTailing() {
	r.t.Helper()
	r.waitFor("tailerd to start tailing", time.Minute, func() bool { return r.d.Logged("tailing the oplog") })
}

// newest is the source's newest oplog position.
func (r *run) newest() oplog.Timestamp {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ts, err := r.src.LastTS(ctx, r.client)
	if err != nil {
		r.t.Fatalf("source's newest entry: %v", err)
	}
	return oplog.Timestamp{T: ts.T, I: ts.I}
}

// oldest is the source's oldest oplog position.
func (r *run) oldest() oplog.Timestamp {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var doc bson.Raw
	err := r.client.Database("local").Collection("oplog.rs").
		FindOne(ctx, bson.D{}, options.FindOne().SetSort(bson.D{{Key: "ts", Value: 1}})).Decode(&doc)
	if err != nil {
		r.t.Fatalf("source's oldest entry: %v", err)
	}
	ts, err := oplog.EntryTS(doc)
	if err != nil {
		r.t.Fatalf("source's oldest entry: %v", err)
	}
	return ts
}

// status runs `tailerd status` against the running daemon.
func (r *run) status() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "tailerd"), "status", "--http-addr", r.httpAddr)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return out.String(), fmt.Errorf("tailerd status: exit %d", exit.ExitCode())
	}
	return out.String(), err
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
