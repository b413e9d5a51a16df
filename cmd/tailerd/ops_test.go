package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/tidelog/tidelog/cycle"
	"github.com/tidelog/tidelog/deploy"
	"github.com/tidelog/tidelog/metrics"
	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/store/spool"
	"github.com/tidelog/tidelog/tailer"
	"github.com/tidelog/tidelog/topology"
)

func TestExpandEnv(t *testing.T) {
	env := map[string]string{"PW": "s3:cr#t", "EMPTY": "", "N": "42"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cases := map[string]string{
		"plain":                  "plain",
		"${PW}":                  "s3:cr#t",
		"a${N}b":                 "a42b",
		"${MISSING:-dflt}":       "dflt",
		"${EMPTY:-dflt}":         "dflt",
		"${PW:-dflt}":            "s3:cr#t",
		"$$":                     "$",
		"$${PW}":                 "${PW}",
		"cost $5":                "cost $5",
		"end$":                   "end$",
		"${MISSING:-}":           "",
		"mongodb://u:${PW}@h/db": "mongodb://u:s3:cr#t@h/db",
	}
	for in, want := range cases {
		got, err := expandEnv(in, lookup)
		if err != nil || got != want {
			t.Errorf("expandEnv(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for in, says := range map[string]string{"${MISSING}": "MISSING is not set", "${PW": "unclosed", "${1X}": "not a variable name", "${}": "not a variable name"} {
		if _, err := expandEnv(in, lookup); err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("expandEnv(%q): error %v, want one saying %q", in, err, says)
		}
	}
}

func TestConfigFileEnvExpansion(t *testing.T) {
	t.Setenv("TL_PW", `p#w: "x'`)
	t.Setenv("TL_CUT", "1048576")
	t.Setenv("TL_STREAM", "123")
	p := writeConfig(t, "# a comment with ${NOT_SET} is not expanded\n"+
		"source: mongodb://u:${TL_PW}@db:27017/?replicaSet=rs0\nstore: ${TL_STORE:-/var/lib/tidelog}\n"+
		"cut_bytes: ${TL_CUT}\nstream: ${TL_STREAM}\ncheckpoint: /c$$1\n")
	fc, warnings, err := loadConfigFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if fc.Source != `mongodb://u:p#w: "x'@db:27017/?replicaSet=rs0` || fc.Store != "/var/lib/tidelog" || fc.CutBytes != 1<<20 ||
		fc.Stream != "123" || fc.Checkpoint != "/c$1" {
		t.Errorf("expanded config: %+v", fc)
	}
	if len(warnings) != 0 {
		t.Errorf("a 0600 file with the password from the environment: warnings %v", warnings)
	}
	bad := writeConfig(t, "store: /s\nsource: mongodb://u:${TL_UNSET_PW}@db/\n")
	if _, _, err := loadConfigFile(bad); err == nil || !strings.Contains(err.Error(), "TL_UNSET_PW is not set") || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("unset variable: %v", err)
	}
	if _, err := parseArgs([]string{"--config", bad}, io.Discard); err == nil {
		t.Error("parseArgs must refuse a config naming an unset variable")
	}
}

func TestConfigPermissionWarning(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	secret := "store: /s\nsource: mongodb://backup:s3cret@db:27017/?replicaSet=rs0\n"
	cases := []struct {
		name, body string
		mode       os.FileMode
		warn       bool
	}{
		{"open-secret.yaml", secret, 0o644, true},
		{"group-secret.yaml", secret, 0o640, true},
		{"private-secret.yaml", secret, 0o600, false},
		{"open-env.yaml", "store: /s\nsource: mongodb://backup:${PW:-x}@db:27017/\n", 0o644, false},
		{"open-nopw.yaml", "store: /s\nsource: mongodb://backup@db:27017/\n", 0o644, false},
	}
	for _, c := range cases {
		_, warnings, err := loadConfigFile(write(c.name, c.body, c.mode))
		if err != nil {
			t.Fatal(err)
		}
		if got := len(warnings) > 0; got != c.warn {
			t.Errorf("%s (%o): warning %v, want %v", c.name, c.mode, warnings, c.warn)
		}
		for _, w := range warnings {
			if strings.Contains(w, "s3cret") || !strings.Contains(w, "chmod 600") {
				t.Errorf("warning %q must say what to do and not repeat the password", w)
			}
		}
	}
	// The warning reaches the log: parseArgs keeps it for run.
	c, err := parseArgs([]string{"--config", filepath.Join(dir, "open-secret.yaml")}, io.Discard)
	if err != nil || len(c.warnings) != 1 {
		t.Errorf("parseArgs: %v, warnings %v", err, c.warnings)
	}
}

func TestHTTPAddrSetting(t *testing.T) {
	c, err := parseArgs([]string{"--config", writeConfig(t, "source: mongodb://h:1/\nstore: /s\nhttp_addr: 127.0.0.1:9464\n")}, io.Discard)
	if err != nil || c.HTTPAddr != "127.0.0.1:9464" {
		t.Fatalf("http_addr from the file: %q, %v", c.HTTPAddr, err)
	}
	if _, err := parseArgs([]string{"--source", "mongodb://h:1/", "--store", "/s", "--http-addr", "9464"}, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "HOST:PORT") {
		t.Errorf("a bad --http-addr: %v", err)
	}
}

// The annotated example documents every key, and loads.
func TestExampleConfigHasEveryKey(t *testing.T) {
	data, err := os.ReadFile("../../deploy/tailerd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	typ := reflect.TypeOf(fileConfig{})
	for i := range typ.NumField() {
		key, _, _ := strings.Cut(typ.Field(i).Tag.Get("yaml"), ",")
		if !regexp.MustCompile(`(?m)^#?` + key + `:`).Match(data) {
			t.Errorf("deploy/tailerd.yaml does not document %s", key)
		}
	}
	t.Setenv("TIDELOG_SOURCE_PASSWORD", "pw")
	c, err := parseArgs([]string{"--config", "../../deploy/tailerd.yaml"}, io.Discard)
	if err != nil {
		t.Fatalf("the example config: %v", err)
	}
	if c.HTTPAddr != "127.0.0.1:9464" || c.SnapshotEvery != 24*time.Hour {
		t.Errorf("example config: %+v", c.fileConfig)
	}
}

type fakeTarget struct {
	level  zerolog.Level
	cycles []cycle.Config
}

func (f *fakeTarget) setLogLevel(l zerolog.Level)   { f.level = l }
func (f *fakeTarget) setCycleConfig(c cycle.Config) { f.cycles = append(f.cycles, c) }

func TestReload(t *testing.T) {
	path := writeConfig(t, "source: mongodb://u:pw1@h:1/\nstore: /s\nlog_level: info\nkeep_snapshots: 3\ncut_age: 5s\n")
	args := []string{"--config", path, "--cut-bytes", "65536"}
	old, err := parseArgs(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	rewrite := func(body string) config {
		t.Helper()
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := parseArgs(args, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// Nothing changed.
	var f fakeTarget
	if ch := reload(old, rewrite("source: mongodb://u:pw1@h:1/\nstore: /s\nlog_level: info\nkeep_snapshots: 3\ncut_age: 5s\n"), &f); len(ch) != 0 {
		t.Errorf("unchanged file: changes %+v", ch)
	}
	next := rewrite("source: mongodb://u:pw2@h:1/\nstore: /s\nlog_level: debug\nkeep_snapshots: 5\ncut_age: 7s\ncut_bytes: 1024\n")
	f = fakeTarget{}
	changes := reload(old, next, &f)
	byKey := map[string]change{}
	for _, c := range changes {
		byKey[c.Key] = c
	}
	if c := byKey["log_level"]; !c.Applied || c.Old != "info" || c.New != "debug" || f.level != zerolog.DebugLevel {
		t.Errorf("log_level: %+v, level %s", c, f.level)
	}
	if c := byKey["keep_snapshots"]; !c.Applied || len(f.cycles) != 1 || f.cycles[0].Retention.Keep != 5 {
		t.Errorf("keep_snapshots: %+v, cycles %+v", c, f.cycles)
	}
	if c := byKey["cut_age"]; c.Applied || c.Why != "needs a restart" {
		t.Errorf("cut_age: %+v", c)
	}
	if c := byKey["source"]; c.Applied || strings.Contains(c.Old+c.New, "pw") {
		t.Errorf("source must need a restart and be logged without its password: %+v", c)
	}
	if c := byKey["cut_bytes"]; c.Applied || !strings.Contains(c.Why, "--cut-bytes") {
		t.Errorf("cut_bytes set by a flag: %+v", c)
	}
	if len(changes) != 5 {
		t.Errorf("changes: %+v", changes)
	}
	var buf bytes.Buffer
	logReload(zerolog.New(&buf), changes)
	for _, want := range []string{`"key":"log_level"`, "setting applied", `"key":"cut_age"`, "NOT applied: needs a restart", "until tailerd restarts"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("reload log lacks %q:\n%s", want, buf.String())
		}
	}
	// The running configuration keeps what was not applied: it is reported
	// again at the next reload.
	running := applied(old, next)
	if running.LogLevel != "debug" || running.KeepSnapshots != 5 || running.CutAge != 5*time.Second {
		t.Errorf("running after reload: %+v", running.fileConfig)
	}
	if again := reload(running, next, &fakeTarget{}); len(again) != 2 {
		t.Errorf("second reload of the same file: %+v (want source and cut_age, still needing a restart)", again)
	}

	// A changed stream needs a restart: the reloaded cycle must go on
	// snapshotting the stream being captured.
	f = fakeTarget{}
	reload(old, rewrite("source: mongodb://u:pw1@h:1/\nstore: /s\nstream: other\nkeep_snapshots: 4\n"), &f)
	if len(f.cycles) != 1 || f.cycles[0].Snapshot.Stream != old.Stream || f.cycles[0].Retention.Keep != 4 {
		t.Errorf("cycle after reloading stream and keep_snapshots: %+v, want stream %q kept", f.cycles, old.Stream)
	}
}

func TestLevelWriter(t *testing.T) {
	var buf bytes.Buffer
	lw := newLevelWriter(zerolog.MultiLevelWriter(&buf), zerolog.InfoLevel)
	log := zerolog.New(lw).Level(zerolog.DebugLevel)
	log.Debug().Msg("hidden")
	lw.set(zerolog.DebugLevel)
	log.Debug().Msg("shown")
	if strings.Contains(buf.String(), "hidden") || !strings.Contains(buf.String(), "shown") {
		t.Errorf("log: %s", buf.String())
	}
}

// fakeTailer serves fixed Stats.
type fakeTailer struct {
	mu sync.Mutex
	s  tailer.Stats
}

func (f *fakeTailer) Stats() tailer.Stats { f.mu.Lock(); defer f.mu.Unlock(); return f.s }

// pipelinesWith is a registry holding fake pipelines: rs0 capturing with
// every figure set, shard1 failed and waiting for a restart.
func pipelinesWith(now time.Time) *pipelines {
	p := newPipelines(config{}, nil, nil, zerolog.Nop(), true)
	p.streams["rs0"] = &pipeState{rs: topology.ReplicaSet{Name: "rs0", Role: topology.RoleShard}, tailer: &fakeTailer{s: tailer.Stats{
		Stream: "rs0", Cursor: tailer.CursorPoll,
		Captured: oplog.Timestamp{T: 1700000100, I: 2}, Durable: oplog.Timestamp{T: 1700000090, I: 1},
		LastCommit: now.Add(-30 * time.Second), Pending: 12, Segments: 3, Entries: 300, Bytes: 4096, StoreErrors: 2, ReadErrors: 1,
		SourceOldest: oplog.Timestamp{T: 1700000090 - 1800}, SourceNewest: oplog.Timestamp{T: 1700000160}, ProbedAt: now,
	}}, snaps: snapInfo{checked: now, complete: 2, newest: now.Add(-2 * time.Hour)}, snapsTaken: 3, snapsFailed: 1}
	p.streams["shard1"] = &pipeState{rs: topology.ReplicaSet{Name: "shard1", Role: topology.RoleShard}, tailer: &fakeTailer{},
		failed: errors.New("connection refused"), failedAt: now, restarts: 2}
	p.restarts.Store(2)
	return p
}

// gather returns every sample as name{labels sorted by name} -> value.
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+`="`+l.GetValue()+`"`)
			}
			key := f.GetName()
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case m.GetGauge() != nil:
				out[key] = m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				out[key] = m.GetCounter().GetValue()
			}
		}
	}
	return out
}

func scrape(t *testing.T, reg *prometheus.Registry) map[string]bool {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range families {
		names[f.GetName()] = true
	}
	return names
}

// Every series tailerd exports is in deploy.TailerdMetrics and the other
// way round, so the alert rules and the dashboard (checked against that
// list in deploy/) use only series tailerd has.
func TestMetricsMatchDeployList(t *testing.T) {
	now := time.Now()
	p := pipelinesWith(now)
	sp := func() (spool.Status, bool) {
		return spool.Status{Bytes: 10, MaxBytes: 1 << 30, Items: 1, Dests: []spool.DestStatus{{Name: "standby", PendingBytes: 10, OldestAge: time.Second}}}, true
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(&collector{get: func() *pipelines { return p }, spool: sp, interval: func() time.Duration { return time.Hour }, now: time.Now})
	got := scrape(t, reg)
	var names []string
	for n := range got {
		names = append(names, n)
	}
	sort.Strings(names)
	if !slices.Equal(names, deploy.TailerdMetrics) {
		t.Errorf("tailerd exports\n%v\ndeploy.TailerdMetrics lists\n%v", names, deploy.TailerdMetrics)
	}
	for _, n := range names {
		if !strings.HasPrefix(n, "tidelog_capture_") && !strings.HasPrefix(n, "tidelog_snapshot_") && !strings.HasPrefix(n, "tidelog_snapshots_") &&
			!strings.HasPrefix(n, "tidelog_spool_") {
			t.Errorf("%s: want tidelog_capture_, tidelog_snapshot_, tidelog_snapshots_ or tidelog_spool_", n)
		}
	}
	values := gather(t, reg)
	for series, want := range map[string]float64{
		`tidelog_capture_lag_seconds{role="shard",stream="rs0"}`:                70,
		`tidelog_capture_lag_entries{role="shard",stream="rs0"}`:                12,
		`tidelog_capture_oplog_headroom_seconds{role="shard",stream="rs0"}`:     1800,
		`tidelog_capture_captured_timestamp_seconds{role="shard",stream="rs0"}`: 1700000100,
		`tidelog_capture_entries_total{role="shard",stream="rs0"}`:              300,
		`tidelog_capture_up{role="shard",stream="rs0"}`:                         1,
		`tidelog_capture_up{role="shard",stream="shard1"}`:                      0,
		`tidelog_capture_stream_restarts_total{role="shard",stream="shard1"}`:   2,
		`tidelog_capture_pipeline_restarts_total`:                               2,
		`tidelog_capture_pipelines_running`:                                     1,
		`tidelog_capture_pipelines_failing`:                                     1,
		`tidelog_snapshot_complete{role="shard",stream="rs0"}`:                  2,
		`tidelog_snapshots_taken_total{role="shard",stream="rs0"}`:              3,
		`tidelog_snapshots_failed_total{role="shard",stream="rs0"}`:             1,
		`tidelog_snapshots_failed_total{role="shard",stream="shard1"}`:          0,
		`tidelog_snapshot_interval_seconds`:                                     3600,
		`tidelog_spool_destination_pending_bytes{dest="standby"}`:               10,
	} {
		if got, ok := values[series]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}
	if age := values[`tidelog_capture_checkpoint_age_seconds{role="shard",stream="rs0"}`]; age < 29 || age > 60 {
		t.Errorf("checkpoint age %v, want about 30", age)
	}
	if _, ok := values[`tidelog_capture_oplog_headroom_seconds{role="shard",stream="shard1"}`]; ok {
		t.Error("headroom before the first probe must be absent, not 0")
	}
	if _, ok := values[`tidelog_capture_checkpoint_age_seconds{role="shard",stream="shard1"}`]; ok {
		t.Error("checkpoint age before the first commit must be absent")
	}

	// Before capture starts: the daemon's series, the gap counter among
	// them, at zero; no stream's.
	early := prometheus.NewRegistry()
	early.MustRegister(&collector{get: func() *pipelines { return nil }, now: time.Now})
	if got := scrape(t, early); !got["tidelog_capture_gaps_detected_total"] || got["tidelog_capture_lag_seconds"] {
		t.Errorf("series before start: %v", got)
	}
}

func TestReadiness(t *testing.T) {
	p := pipelinesWith(time.Now())
	err := p.ready()
	if err == nil || !strings.Contains(err.Error(), "shard1 failed") {
		t.Errorf("a failed pipeline: %v", err)
	}
	p.mu.Lock()
	p.streams["shard1"].failed = nil
	p.mu.Unlock()
	if err := p.ready(); err == nil || !strings.Contains(err.Error(), "not connected") {
		t.Errorf("a pipeline not connected yet: %v", err)
	}
	p.mu.Lock()
	p.streams["shard1"].tailer = &fakeTailer{s: tailer.Stats{Stream: "shard1", Cursor: tailer.CursorTailable}}
	p.mu.Unlock()
	if err := p.ready(); err != nil {
		t.Errorf("every pipeline connected: %v", err)
	}
	if err := newPipelines(config{}, nil, nil, zerolog.Nop(), true).ready(); err == nil {
		t.Error("no pipeline yet: not ready")
	}
	// A failed run is a restart when the supervisor runs it again.
	p.end(context.Background(), "rs0", p.streams["rs0"], errors.New("boom"))
	p.begin(topology.ReplicaSet{Name: "rs0"})
	if p.restarts.Load() != 3 || p.streams["rs0"].restarts != 1 || p.streams["rs0"].failed != nil {
		t.Errorf("restart not counted: %d %+v", p.restarts.Load(), p.streams["rs0"])
	}
}

func statusFixture(t *testing.T) (statusDoc, []byte) {
	t.Helper()
	now := time.Now()
	p := pipelinesWith(now)
	cfg := config{fileConfig: fileConfig{Source: "mongodb://backup:s3cret@db:27017/?replicaSet=rs0", Store: "/var/lib/tidelog/store",
		LogLevel: "info", HTTPAddr: "127.0.0.1:9464"}}
	doc := p.status(cfg, nil, "info", now)
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte("s3cret")) {
		t.Fatalf("/status shows the password: %s", data)
	}
	return doc, data
}

func TestFormatStatus(t *testing.T) {
	doc, _ := statusFixture(t)
	out := formatStatus(doc)
	for _, want := range []string{
		"source mongodb://backup:xxxxx@db:27017",
		"WARNING not ready: stream shard1 failed",
		"stream rs0 (shard): capturing",
		"captured   1700000100.2 (2023-11-14T22:15:00Z)",
		"durable    1700000090.1",
		"lag        1m10s, 12 entries not yet durable",
		"headroom   30m0s",
		"committed  30s ago",
		"stored     3 segments, 300 entries, 4.0 KiB",
		"errors     2 store, 1 read",
		"snapshots  2 complete, newest 2h0m0s ago",
		"WARNING oplog headroom 30m0s is under 1h",
		"WARNING lag 1m10s is over 60s",
		"WARNING 2 store write errors",
		"stream shard1 (shard): failed, restarted 2 times",
		"WARNING capture failed and is retried with backoff: connection refused",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
}

// `tailerd status` against a served /status, as an operator runs it.
func TestStatusCommand(t *testing.T) {
	doc, _ := statusFixture(t)
	srv := &metrics.Server{Registry: prometheus.NewRegistry(), Status: func() any { return doc }, Log: zerolog.Nop()}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	addr := strings.TrimPrefix(ts.URL, "http://")

	var stdout, stderr bytes.Buffer
	if code := runStatus(context.Background(), []string{"--http-addr", addr}, &stdout, &stderr); code != 0 {
		t.Fatalf("status: exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "stream rs0 (shard): capturing") {
		t.Errorf("human output:\n%s", stdout.String())
	}
	stdout.Reset()
	// The operator's shell lacks the daemon's secrets: status needs none.
	cfgPath := writeConfig(t, "source: mongodb://u:${TL_STATUS_UNSET}@h/\nhttp_addr: "+addr+"\n")
	if code := runStatus(context.Background(), []string{"--config", cfgPath, "--json"}, &stdout, &stderr); code != 0 {
		t.Fatalf("status --json: exit %d: %s", code, stderr.String())
	}
	var back statusDoc
	if err := json.Unmarshal(stdout.Bytes(), &back); err != nil || len(back.Streams) != 2 || back.Streams[0].Stream != "rs0" {
		t.Errorf("--json: %v %+v", err, back)
	}

	// Nobody listening: a clear message and a non-zero exit.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	stderr.Reset()
	if code := runStatus(context.Background(), []string{"--http-addr", dead}, io.Discard, &stderr); code != exitFailure ||
		!strings.Contains(stderr.String(), "tailerd is not reachable") || !strings.Contains(stderr.String(), "--http-addr") {
		t.Errorf("unreachable: exit %d: %s", code, stderr.String())
	}
	// Something else answering.
	other := httptest.NewServer(http.NotFoundHandler())
	defer other.Close()
	stderr.Reset()
	if code := runStatus(context.Background(), []string{"--http-addr", strings.TrimPrefix(other.URL, "http://")}, io.Discard, &stderr); code != exitFailure ||
		!strings.Contains(stderr.String(), "404") {
		t.Errorf("not tailerd: exit %d: %s", code, stderr.String())
	}
	if code := runStatus(context.Background(), nil, io.Discard, io.Discard); code != exitUsage {
		t.Errorf("no address: exit %d", code)
	}
	if u, _ := statusURL(":9464"); u != "http://127.0.0.1:9464/status" {
		t.Errorf("statusURL(:9464) = %s", u)
	}
}

// A taken --http-addr is a usage error at start, before anything is opened.
func TestHTTPAddrTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var stderr bytes.Buffer
	code := run(context.Background(), []string{"--source", "mongodb://127.0.0.1:1/", "--store", t.TempDir(), "--http-addr", ln.Addr().String()}, &stderr)
	if code != exitUsage || !strings.Contains(stderr.String(), "--http-addr") {
		t.Errorf("exit %d: %s", code, stderr.String())
	}
}
