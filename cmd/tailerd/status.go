package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/store/spool"
	"github.com/tidelog/tidelog/tailer"
	"github.com/tidelog/tidelog/topology"
)

// statusDoc is /status: what `tailerd status` prints.
type statusDoc struct {
	Daemon           string         `json:"daemon"`
	Version          string         `json:"version,omitempty"`
	PID              int            `json:"pid"`
	Started          time.Time      `json:"started"`
	UptimeSeconds    float64        `json:"uptime_seconds"`
	Ready            bool           `json:"ready"`
	NotReady         string         `json:"not_ready,omitempty"`
	PipelineRestarts uint64         `json:"pipeline_restarts"`
	GapsDetected     uint64         `json:"gaps_detected"`
	Config           configSummary  `json:"config"`
	Streams          []streamStatus `json:"streams"`
	Spool            *spoolSummary  `json:"spool,omitempty"`
}

// configSummary is the running configuration without secrets: URIs pass
// through topology.RedactURI; store locations never hold credentials.
type configSummary struct {
	Source        string            `json:"source,omitempty"`
	Members       map[string]string `json:"members,omitempty"`
	Store         string            `json:"store"`
	Checkpoint    string            `json:"checkpoint"`
	PublishTo     map[string]string `json:"publish_to,omitempty"`
	Spool         string            `json:"spool,omitempty"`
	Cursor        string            `json:"cursor"`
	CutBytes      int               `json:"cut_bytes"`
	CutAge        string            `json:"cut_age"`
	SnapshotEvery string            `json:"snapshot_every"`
	KeepSnapshots int               `json:"keep_snapshots"`
	KeepFor       string            `json:"keep_for"`
	Prune         bool              `json:"prune"`
	LogLevel      string            `json:"log_level"`
	HTTPAddr      string            `json:"http_addr"`
	ConfigFile    string            `json:"config_file,omitempty"`
	// Encryption is "none" when segments and snapshots are stored
	// unencrypted, else the id of the key new ones are encrypted with;
	// EncryptionKeyIDs lists the id of every key loaded, that one first
	// (the others decrypt only). Ids only: never a key.
	Encryption       string   `json:"encryption"`
	EncryptionKeyIDs []string `json:"encryption_key_ids,omitempty"`
}

// streamStatus is one replica set's pipeline.
type streamStatus struct {
	Stream     string `json:"stream"`
	ReplicaSet string `json:"replica_set"`
	Role       string `json:"role,omitempty"`
	// State is capturing, connecting, or failed (waiting for a restart).
	State     string     `json:"state"`
	LastError string     `json:"last_error,omitempty"`
	FailedAt  *time.Time `json:"failed_at,omitempty"`
	Restarts  uint64     `json:"restarts"`
	// Captured and Durable as T.I, and the time they stand for.
	Captured             string        `json:"captured"`
	CapturedTime         *time.Time    `json:"captured_time,omitempty"`
	Durable              string        `json:"durable"`
	DurableTime          *time.Time    `json:"durable_time,omitempty"`
	LagSeconds           float64       `json:"lag_seconds"`
	LagEntries           int64         `json:"lag_entries"`
	HeadroomSeconds      *float64      `json:"headroom_seconds,omitempty"`
	CheckpointAgeSeconds *float64      `json:"checkpoint_age_seconds,omitempty"`
	Snapshots            *snapshotInfo `json:"snapshots,omitempty"`
	Stats                tailer.Stats  `json:"stats"`
}

type snapshotInfo struct {
	Complete         int        `json:"complete"`
	Newest           *time.Time `json:"newest,omitempty"`
	NewestAgeSeconds *float64   `json:"newest_age_seconds,omitempty"`
	CheckedAt        time.Time  `json:"checked_at"`
}

type spoolSummary struct {
	Dir      string          `json:"dir"`
	Bytes    int64           `json:"bytes"`
	MaxBytes int64           `json:"max_bytes"`
	Items    int             `json:"items"`
	Paused   bool            `json:"paused"`
	Dests    []spoolDestInfo `json:"destinations"`
}

type spoolDestInfo struct {
	Name             string  `json:"name"`
	PendingBytes     int64   `json:"pending_bytes"`
	OldestAgeSeconds float64 `json:"oldest_pending_age_seconds"`
	Failing          bool    `json:"failing"`
	LastError        string  `json:"last_error,omitempty"`
}

// version is set at build time (-ldflags "-X main.version=..."); else the
// module's version or VCS revision, when the build recorded one.
var version = ""

func buildVersion() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev == "" {
		return ""
	}
	return rev + dirty
}

func summarize(c config) configSummary {
	s := configSummary{
		Store: c.Store, Checkpoint: c.Checkpoint, Spool: c.Spool, Cursor: c.Cursor, CutBytes: c.CutBytes,
		CutAge: c.CutAge.String(), SnapshotEvery: c.SnapshotEvery.String(), KeepSnapshots: c.KeepSnapshots,
		KeepFor: c.KeepFor.String(), Prune: c.Prune, LogLevel: c.LogLevel, HTTPAddr: c.HTTPAddr, ConfigFile: c.configPath,
	}
	s.Encryption = "none"
	if c.keys.Len() > 0 {
		s.Encryption = c.keys.Primary().ID().String()
		for _, id := range c.keys.IDs() {
			s.EncryptionKeyIDs = append(s.EncryptionKeyIDs, id.String())
		}
	}
	if c.Source != "" {
		s.Source = topology.RedactURI(c.Source)
	}
	if len(c.Members) > 0 {
		s.Members = map[string]string{}
		for _, m := range c.Members {
			s.Members[m.Name] = topology.RedactURI(m.URI)
		}
	}
	if len(c.PublishTo) > 0 {
		s.PublishTo = map[string]string{}
		for _, p := range c.PublishTo {
			s.PublishTo[p.Name] = p.Store
		}
	}
	return s
}

// status builds /status now.
func (p *pipelines) status(cfg config, sp func() (spool.Status, bool), logLevel string, now time.Time) statusDoc {
	d := statusDoc{
		Daemon: "tailerd", Version: buildVersion(), PID: pid, Started: started.UTC(),
		UptimeSeconds: now.Sub(started).Seconds(), PipelineRestarts: p.restarts.Load(), GapsDetected: p.gaps.Load(),
		Config: summarize(cfg), Streams: []streamStatus{},
	}
	d.Config.LogLevel = logLevel
	if err := p.ready(); err != nil {
		d.NotReady = err.Error()
	} else {
		d.Ready = true
	}
	for _, v := range p.views() {
		s := v.stats
		ss := streamStatus{
			Stream: v.stream(), ReplicaSet: v.name, Role: string(v.rs.Role), Restarts: v.restarts,
			Captured: s.Captured.String(), CapturedTime: tsTime(s.Captured), Durable: s.Durable.String(), DurableTime: tsTime(s.Durable),
			LagSeconds: s.LagSeconds(), LagEntries: s.Pending, Stats: s,
		}
		switch {
		case v.failed != nil:
			ss.State, ss.LastError = "failed", v.failed.Error()
			at := v.failedAt.UTC()
			ss.FailedAt = &at
		case v.connected():
			ss.State = "capturing"
		default:
			ss.State = "connecting"
		}
		if h, ok := s.HeadroomSeconds(); ok {
			ss.HeadroomSeconds = &h
		}
		if age, ok := v.checkpointAge(now); ok {
			a := age.Seconds()
			ss.CheckpointAgeSeconds = &a
		}
		if !v.snaps.checked.IsZero() {
			si := &snapshotInfo{Complete: v.snaps.complete, CheckedAt: v.snaps.checked.UTC()}
			if !v.snaps.newest.IsZero() {
				n := v.snaps.newest.UTC()
				age := max(now.Sub(n).Seconds(), 0)
				si.Newest, si.NewestAgeSeconds = &n, &age
			}
			ss.Snapshots = si
		}
		d.Streams = append(d.Streams, ss)
	}
	if sp != nil {
		if st, ok := sp(); ok {
			sum := &spoolSummary{Dir: st.Dir, Bytes: st.Bytes, MaxBytes: st.MaxBytes, Items: st.Items, Paused: !st.Paused.IsZero()}
			for _, ds := range st.Dests {
				sum.Dests = append(sum.Dests, spoolDestInfo{Name: ds.Name, PendingBytes: ds.PendingBytes,
					OldestAgeSeconds: ds.OldestAge.Seconds(), Failing: !ds.FailingSince.IsZero(), LastError: ds.LastError})
			}
			d.Spool = sum
		}
	}
	return d
}

func tsTime(ts oplog.Timestamp) *time.Time {
	if ts.IsZero() {
		return nil
	}
	t := time.Unix(int64(ts.T), 0).UTC()
	return &t
}

// Warning thresholds of `tailerd status`; the alert rules in
// deploy/prometheus use the same ones.
const (
	warnLagSeconds      = 60
	warnHeadroomSeconds = 3600
	warnCheckpointAge   = 15 * 60
)

// runStatus is `tailerd status`: it asks the running daemon's /status and
// prints it for a person, or as it is with --json. Exit codes: 0 the daemon
// answered (warnings are printed, not an exit code), 1 it could not be
// reached or answered nonsense, 2 bad flags.
func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tailerd status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("http-addr", "", "the daemon's --http-addr (default: http_addr from --config)")
	configPath := fs.String("config", "", "the daemon's YAML config file, to read http_addr from")
	asJSON := fs.Bool("json", false, "print /status's JSON as it is")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the daemon's answer")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: tailerd status [--http-addr HOST:PORT | --config FILE] [--json]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "tailerd status: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if *addr == "" && *configPath != "" {
		a, err := configHTTPAddr(*configPath)
		if err != nil {
			fmt.Fprintf(stderr, "tailerd status: %v (or give --http-addr)\n", err)
			return exitUsage
		}
		*addr = a
		if *addr == "" {
			fmt.Fprintf(stderr, "tailerd status: %s sets no http_addr: the daemon serves no status; set http_addr (e.g. 127.0.0.1:9464) and restart it\n", *configPath)
			return exitUsage
		}
	}
	if *addr == "" {
		fmt.Fprintln(stderr, "tailerd status: give --http-addr HOST:PORT (the daemon's --http-addr) or --config FILE")
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	body, err := fetchStatus(ctx, *addr)
	if err != nil {
		fmt.Fprintf(stderr, "tailerd status: %v\n", err)
		return exitFailure
	}
	if *asJSON {
		_, _ = stdout.Write(body)
		return exitOK
	}
	var doc statusDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		fmt.Fprintf(stderr, "tailerd status: the answer from %s is not tailerd's status: %v\n", *addr, err)
		return exitFailure
	}
	fmt.Fprint(stdout, formatStatus(doc))
	return exitOK
}

// configHTTPAddr reads http_addr alone from the daemon's config file: the
// variables its other keys name (secrets) need not be set for status.
func configHTTPAddr(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("config %s: %w", path, err)
	}
	var c struct {
		HTTPAddr string `yaml:"http_addr"`
	}
	if err := yaml.Unmarshal(data, &c); err != nil {
		return "", fmt.Errorf("config %s: %w", path, err)
	}
	addr, err := expandEnv(c.HTTPAddr, os.LookupEnv)
	if err != nil {
		return "", fmt.Errorf("config %s: http_addr: %w", path, err)
	}
	return addr, nil
}

// statusURL is the /status address for an --http-addr: a daemon listening
// on every interface (":9464", "0.0.0.0:9464") is asked on loopback.
func statusURL(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("--http-addr %q: want HOST:PORT, e.g. 127.0.0.1:9464: %w", addr, err)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/status", nil
}

func fetchStatus(ctx context.Context, addr string) ([]byte, error) {
	url, err := statusURL(addr)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("request %s: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("tailerd is not reachable at %s: %w\n"+
			"check that tailerd runs (systemctl status tailerd), that it was started with --http-addr %s (or http_addr in its config), "+
			"and that nothing (a firewall, another address) is in the way", url, err, addr)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s: is that address tailerd's --http-addr? %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return body, nil
}

// formatStatus renders the status for a person: a line for the daemon, a
// block per stream, and WARNING lines for what needs a look.
func formatStatus(d statusDoc) string {
	var b strings.Builder
	ver := d.Version
	if ver == "" {
		ver = "unknown version"
	}
	fmt.Fprintf(&b, "tailerd %s, pid %d, up %s (since %s)\n", ver, d.PID, roundDur(time.Duration(d.UptimeSeconds*float64(time.Second))),
		d.Started.UTC().Format(time.RFC3339))
	src := d.Config.Source
	if src == "" {
		names := make([]string, 0, len(d.Config.Members))
		for n := range d.Config.Members {
			names = append(names, n)
		}
		src = "members " + strings.Join(names, ", ")
	}
	fmt.Fprintf(&b, "source %s\nstore  %s\n", src, d.Config.Store)
	switch enc := d.Config.Encryption; {
	case enc == "none":
		b.WriteString("encryption none: segments and snapshots are stored unencrypted\n")
	case enc != "":
		fmt.Fprintf(&b, "encryption key %s", enc)
		if len(d.Config.EncryptionKeyIDs) > 1 {
			fmt.Fprintf(&b, " (keys loaded: %s; the others decrypt only)", strings.Join(d.Config.EncryptionKeyIDs, ", "))
		}
		b.WriteString("\n")
	}
	if d.Ready {
		b.WriteString("ready: every stream is connected and capturing\n")
	} else {
		fmt.Fprintf(&b, "WARNING not ready: %s\n", strings.ReplaceAll(d.NotReady, "\n", "; "))
	}
	if d.GapsDetected > 0 {
		fmt.Fprintf(&b, "WARNING %d gap(s) detected: history was lost; tailerd stops (exit 3) until a person decides (see docs/operations.md)\n", d.GapsDetected)
	}
	if len(d.Streams) == 0 {
		b.WriteString("no streams yet\n")
	}
	for _, s := range d.Streams {
		b.WriteString("\n")
		role := ""
		if s.Role != "" {
			role = " (" + s.Role + ")"
		}
		fmt.Fprintf(&b, "stream %s%s: %s", s.Stream, role, s.State)
		if s.Restarts > 0 {
			fmt.Fprintf(&b, ", restarted %d times", s.Restarts)
		}
		b.WriteString("\n")
		fmt.Fprintf(&b, "  captured   %s%s\n", s.Captured, timeNote(s.CapturedTime))
		fmt.Fprintf(&b, "  durable    %s%s\n", s.Durable, timeNote(s.DurableTime))
		fmt.Fprintf(&b, "  lag        %s, %d entries not yet durable\n", roundDur(secs(s.LagSeconds)), s.LagEntries)
		if s.HeadroomSeconds != nil {
			fmt.Fprintf(&b, "  headroom   %s (how long capture may stop before the oplog rolls past the durable position)\n", roundDur(secs(*s.HeadroomSeconds)))
		} else {
			b.WriteString("  headroom   unknown (the oplog not probed yet)\n")
		}
		if s.CheckpointAgeSeconds != nil {
			fmt.Fprintf(&b, "  committed  %s ago\n", roundDur(secs(*s.CheckpointAgeSeconds)))
		} else {
			b.WriteString("  committed  not since start\n")
		}
		fmt.Fprintf(&b, "  stored     %d segments, %d entries, %s since start\n", s.Stats.Segments, s.Stats.Entries, humanBytes(s.Stats.Bytes))
		fmt.Fprintf(&b, "  errors     %d store, %d read\n", s.Stats.StoreErrors, s.Stats.ReadErrors)
		if sn := s.Snapshots; sn != nil {
			if sn.NewestAgeSeconds != nil {
				fmt.Fprintf(&b, "  snapshots  %d complete, newest %s ago\n", sn.Complete, roundDur(secs(*sn.NewestAgeSeconds)))
			} else {
				b.WriteString("  snapshots  none\n")
			}
		}
		for _, w := range streamWarnings(s) {
			fmt.Fprintf(&b, "  WARNING %s\n", w)
		}
	}
	if sp := d.Spool; sp != nil {
		fmt.Fprintf(&b, "\nspool %s: %s of %s waiting, %d items\n", sp.Dir, humanBytes(uint64(max(sp.Bytes, 0))), humanBytes(uint64(max(sp.MaxBytes, 0))), sp.Items)
		if sp.Paused {
			b.WriteString("  WARNING spool full: capture is paused until the slowest store catches up\n")
		}
		for _, ds := range sp.Dests {
			fmt.Fprintf(&b, "  %-10s %s behind, oldest %s\n", ds.Name, humanBytes(uint64(max(ds.PendingBytes, 0))), roundDur(secs(ds.OldestAgeSeconds)))
			if ds.Failing {
				fmt.Fprintf(&b, "  WARNING publishing to %s fails: %s\n", ds.Name, ds.LastError)
			}
		}
	}
	return b.String()
}

// streamWarnings are what an operator should look at in one stream.
func streamWarnings(s streamStatus) []string {
	var w []string
	if s.State == "failed" {
		w = append(w, "capture failed and is retried with backoff: "+s.LastError)
	}
	if s.HeadroomSeconds != nil && *s.HeadroomSeconds < warnHeadroomSeconds {
		w = append(w, fmt.Sprintf("oplog headroom %s is under 1h: if capture stops for longer, history is lost (a gap); grow the oplog or fix capture now",
			roundDur(secs(*s.HeadroomSeconds))))
	}
	if s.LagSeconds > warnLagSeconds {
		w = append(w, fmt.Sprintf("lag %s is over 60s: the store or the source is slow, or capture is stuck", roundDur(secs(s.LagSeconds))))
	}
	if s.Stats.StoreErrors > 0 {
		w = append(w, fmt.Sprintf("%d store write errors since start: check the store (tailerd's log says which)", s.Stats.StoreErrors))
	}
	if s.Stats.ReadErrors > 0 {
		w = append(w, fmt.Sprintf("%d oplog read errors since start: check the source", s.Stats.ReadErrors))
	}
	if s.CheckpointAgeSeconds != nil && *s.CheckpointAgeSeconds > warnCheckpointAge && (s.LagEntries > 0 || s.LagSeconds > 0) {
		w = append(w, fmt.Sprintf("nothing committed for %s although entries wait", roundDur(secs(*s.CheckpointAgeSeconds))))
	}
	return w
}

func secs(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

func timeNote(t *time.Time) string {
	if t == nil {
		return " (none yet)"
	}
	return " (" + t.UTC().Format(time.RFC3339) + ")"
}

// roundDur prints a duration to the second (to the minute past a day).
func roundDur(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	if d >= 24*time.Hour {
		days := d / (24 * time.Hour)
		return fmt.Sprintf("%dd%s", days, (d % (24 * time.Hour)).Round(time.Minute))
	}
	return d.Round(time.Second).String()
}

func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
