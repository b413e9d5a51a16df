// Command tailerd follows a MongoDB replica set's oplog and stores it as
// checksummed segments, so that the data can be restored to any position.
//
//	tailerd --source URI --store STORE [--checkpoint DIR] [--config FILE] [flags]
//
// STORE is a directory, s3://BUCKET/PREFIX?endpoint=HOST:PORT or
// kafka://HOST:PORT,.../TOPICPREFIX (package storeurl); with S3 or Kafka the
// local --checkpoint DIR is required.
//
//	tailerd status [--http-addr HOST:PORT | --config FILE] [--json]
//
// The second form asks a running tailerd (its --http-addr) for its status.
//
//	tailerd genkey [-o FILE]
//
// The third writes a new encryption key for --encryption-key-file (or
// TIDELOG_ENCRYPTION_KEY), to FILE with mode 0600, and prints its id.
//
// Signals: SIGINT/SIGTERM stop cleanly, SIGHUP rereads the config file
// (applying the log level and the backup cycle's settings, and logging each
// other changed setting as needing a restart), SIGUSR1 takes a snapshot.
// Under systemd (Type=notify) it reports readiness, reloads and stopping,
// and sends watchdog keep-alives while its event loop is alive.
//
// Exit codes: 0 clean shutdown (SIGINT/SIGTERM: the open segment is cut and
// committed first), 1 runtime failure, 2 bad flags or config (or an
// encryption key missing for a segment tailerd must read back), 3 gap in the
// oplog (history lost; recorded in the store), 4 source unreachable or not a
// replica set, 5 store unusable (it answered and refused), 6 checkpoint
// unusable. A store that cannot be reached at start is no exit: tailerd
// waits for it, retrying, with /readyz not ready (storewait.go).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"reflect"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/tidelog/tidelog/capture"
	"github.com/tidelog/tidelog/checkpoint"
	"github.com/tidelog/tidelog/crypt"
	"github.com/tidelog/tidelog/cycle"
	"github.com/tidelog/tidelog/internal/sdnotify"
	"github.com/tidelog/tidelog/metrics"
	"github.com/tidelog/tidelog/retention"
	"github.com/tidelog/tidelog/snapshot"
	"github.com/tidelog/tidelog/store"
	"github.com/tidelog/tidelog/store/spool"
	"github.com/tidelog/tidelog/tailer"
	"github.com/tidelog/tidelog/topology"
)

const (
	exitOK = iota
	exitFailure
	exitUsage
	exitGap
	exitSource
	exitStore
	exitCheckpoint
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	var code int
	if len(os.Args) > 1 && os.Args[1] == "status" {
		code = runStatus(ctx, os.Args[2:], os.Stdout, os.Stderr)
	} else if len(os.Args) > 1 && os.Args[1] == "genkey" {
		code = runGenkey(os.Args[2:], os.Stdout, os.Stderr)
	} else {
		code = run(ctx, os.Args[1:], os.Stderr)
	}
	stop()
	os.Exit(code)
}

// pid is tailerd's process id, for /status.
var pid = os.Getpid()

func run(ctx context.Context, args []string, stderr io.Writer) int {
	// SIGHUP (reload) and SIGUSR1 (snapshot) are caught from the start: their
	// default action would end the process. They are handled once capture runs.
	hup := make(chan os.Signal, 1)
	usr1 := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(hup)
	defer signal.Stop(usr1)

	cfg, err := parseArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "tailerd: %v\n", err)
		return exitUsage
	}
	level, err := zerolog.ParseLevel(cfg.LogLevel)
	if err != nil {
		fmt.Fprintf(stderr, "tailerd: log level %q: want debug, info, warn or error\n", cfg.LogLevel)
		return exitUsage
	}
	levels := newLevelWriter(zerolog.MultiLevelWriter(stderr), level)
	log := zerolog.New(levels).Level(zerolog.DebugLevel).With().Timestamp().Str("cmd", "tailerd").Logger()
	for _, w := range cfg.warnings {
		log.Warn().Msg(w)
	}
	logEncryption(log, cfg)
	notify := sdnotify.FromEnv()

	// The metrics endpoint binds first: a taken port is a usage error now,
	// not a surprise after capture began. It serves /healthz and a not-ready
	// /readyz while the rest starts.
	var (
		obs     observed
		httpLn  net.Listener
		httpSrv *metrics.Server
	)
	running := cfg
	obs.cfg.Store(&running)
	if cfg.HTTPAddr != "" {
		reg := prometheus.NewRegistry()
		reg.MustRegister(&collector{now: time.Now, interval: func() time.Duration { return obs.cfg.Load().SnapshotEvery }, get: obs.get, spool: obs.spoolStatus})
		httpSrv = &metrics.Server{Registry: reg, Ready: obs.ready, Status: func() any { return obs.status(levels) },
			Log: log.With().Str("part", "http").Logger()}
		httpLn, err = httpSrv.Listen(cfg.HTTPAddr)
		if err != nil {
			fmt.Fprintf(stderr, "tailerd: --http-addr: %v (is another tailerd or program using that port?)\n", err)
			return exitUsage
		}
		httpCtx, stopHTTP := context.WithCancel(context.WithoutCancel(ctx))
		served := make(chan struct{})
		go func() {
			defer close(served)
			if err := httpSrv.Serve(httpCtx, httpLn); err != nil {
				log.Error().Err(err).Msg("metrics endpoint stopped")
			}
		}()
		defer func() { stopHTTP(); <-served }()
		log.Info().Str("addr", httpLn.Addr().String()).Msg("serving /metrics, /healthz, /readyz and /status")
	}

	// A store that cannot be reached (an outage, or a reboot before the
	// network) is waited for, with /readyz not ready: exiting would end in
	// systemd's start limit during a long outage, and leave backups off.
	st, closeStores, err := openStoresWaiting(ctx, cfg, &obs, notify, log)
	switch {
	case err != nil && ctx.Err() != nil:
		log.Info().Msg("stopped while waiting for the store: nothing was captured by this run, nothing is lost " +
			"while the source's oplog still holds the entries after the checkpoint")
		return exitOK
	case err != nil:
		log.Error().Err(err).Msg("cannot use the store: this is no outage (tailerd would wait for one) and retrying does not mend it; the error says what to fix")
		return exitStore
	}
	defer closeStores()
	if sp, ok := st.(*spool.Spool); ok {
		obs.setSpool(sp)
	}
	log.Info().Stringer("store", st).Str("checkpoint", cfg.Checkpoint).Msg("store open")
	ckpt, err := checkpoint.Open(cfg.Checkpoint)
	if err != nil {
		log.Error().Err(err).Msg("cannot open the checkpoint")
		return exitCheckpoint
	}
	defer ckpt.Close()
	src, err := openSource(ctx, cfg, log)
	if err != nil {
		log.Error().Err(err).Str("source", cfg.sourceName()).
			Msg("source unusable: check the URI, that the server is up, and that it is a replica set member, config server or mongos")
		return exitSource
	}

	p := newPipelines(cfg, st, ckpt, log, src.named())
	obs.set(p)
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	sup := capture.New(runCtx, p.run, fatal, log)
	watched := src.follow(runCtx, cfg.DiscoverEvery, func(c topology.Changes) {
		p.forget(c.Removed)
		sup.Apply(c)
	}, log)
	d := &daemon{cfg: cfg, obs: &obs, p: p, sup: sup, levels: levels, notify: notify, log: log}
	err = d.loop(ctx, hup, usr1)
	stopRun()
	<-watched
	var gap *tailer.GapError
	switch {
	case err == nil && p.stoppedOnGap.Load():
		return exitGap // already logged with what to do
	case err == nil && p.unclean.Load() > 0:
		log.Warn().Int32("replica_sets", p.unclean.Load()).
			Msg("stopped; some open segments were not stored (see above): nothing is lost while the source's oplog still holds them")
		return exitOK
	case err == nil:
		log.Info().Msg("stopped cleanly: open segments cut and committed")
		return exitOK
	case errors.As(err, &gap):
		return exitGap // already logged with what to do
	case errors.Is(err, crypt.ErrKeyRequired), errors.Is(err, crypt.ErrWrongKey):
		log.Error().Err(err).Msg("capture stopped: an encryption key is missing")
		return exitUsage
	case errors.Is(err, store.ErrNotStore), errors.Is(err, tailer.ErrStoreMismatch):
		log.Error().Err(err).Msg("store unusable")
		return exitStore
	case errors.Is(err, checkpoint.ErrCorrupt):
		log.Error().Err(err).Msg("checkpoint unusable")
		return exitCheckpoint
	default:
		log.Error().Err(err).Msg("capture stopped")
		return exitFailure
	}
}

type config struct {
	fileConfig
	tailer tailer.Config

	// For SIGHUP: the command line to read again, the config file's own
	// settings (before flags won) and the flags given.
	args       []string
	configPath string
	file       fileConfig
	flagsSet   map[string]bool
	// warnings are for the log, once there is one.
	warnings []string
	// keys encrypt segments and snapshots (nil: stored unencrypted);
	// keysFrom says where they came from, for the log.
	keys     *crypt.Keyring
	keysFrom string
}

// cycle is the backup cycle's configuration.
func (c config) cycle() cycle.Config {
	return cycle.Config{
		Every:     c.SnapshotEvery,
		Retention: retention.Policy{Keep: c.KeepSnapshots, KeepFor: c.KeepFor},
		Prune:     c.Prune,
		Snapshot:  snapshot.Options{Stream: c.Stream, Workers: c.SnapshotWorkers, IncludeUsers: c.IncludeUsers, Keys: c.keys},
	}
}

func parseArgs(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("tailerd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	configPath := fs.String("config", "", "YAML config file (keys as the flags, with _ for -)")
	fs.StringVar(&c.Source, "source", "", "MongoDB URI of a replica set member, a config server member or a mongos: every replica set of a cluster is captured (required unless --member)")
	fs.StringVar(&c.SourceKind, "source-kind", "", "what --source is when its hello cannot say: mongos, configsvr or replset (default: detected)")
	fs.Var(memberFlags{&c.Members}, "member", "NAME=URI of a replica set to capture as stream NAME, instead of --source; repeat for each (nothing is discovered)")
	fs.DurationVar(&c.DiscoverEvery, "discover-every", 30*time.Second, "how often to re-read a cluster's shard list, to follow added and removed shards (0: never)")
	fs.StringVar(&c.Store, "store", "", storeHelp)
	fs.Var(publishFlags{&c.PublishTo}, "publish-to", "NAME=LOCATION: also publish segments to this store (repeat for each), through --spool; snapshots stay in --store")
	fs.StringVar(&c.Spool, "spool", "", "with --publish-to: local directory where segments wait until every store has them")
	fs.Int64Var(&c.SpoolMaxBytes, "spool-max-bytes", 1<<30, "with --publish-to: when this many bytes wait in the spool, capture pauses (never drops) until the slowest store catches up")
	fs.StringVar(&c.Checkpoint, "checkpoint", "", "checkpoint directory, local (default STORE/checkpoint for a directory store; required for S3 and Kafka)")
	fs.StringVar(&c.Stream, "stream", "", "stream name in the store (default: the replica set name)")
	fs.StringVar(&c.Start, "start", "oldest", "where a stream with no checkpoint begins: oldest, latest, or a timestamp")
	fs.StringVar(&c.Cursor, "cursor", "auto", "oplog read mode: auto, tailable or poll")
	fs.IntVar(&c.CutBytes, "cut-bytes", tailer.DefaultCutBytes, "cut a segment at this many raw bytes")
	fs.DurationVar(&c.CutAge, "cut-age", tailer.DefaultCutAge, "cut a segment this long after its first entry")
	fs.DurationVar(&c.PollSettle, "poll-settle", 500*time.Millisecond, "cursor mode poll: pass an entry on only once it is this old, so that entries the source shows out of order (FerretDB) are not skipped")
	fs.DurationVar(&c.ConnectTimeout, "connect-timeout", 15*time.Second, "how long to wait for the source at start")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.BoolVar(&c.AcceptGap, "accept-gap", false, "after a recorded gap, start a new chain instead of stopping")
	fs.DurationVar(&c.SnapshotEvery, "snapshot-every", 0, "take a base snapshot this long after the newest one (0: only on demand, with SIGUSR1)")
	fs.IntVar(&c.SnapshotWorkers, "snapshot-workers", 4, "collections (or _id ranges) a snapshot copies at once")
	fs.IntVar(&c.KeepSnapshots, "keep-snapshots", 0, "retention: keep the newest N snapshots (0: no count rule)")
	fs.DurationVar(&c.KeepFor, "keep-for", 0, "retention: keep snapshots younger than this (0: no age rule); the newest is always kept")
	fs.BoolVar(&c.Prune, "prune", false, "delete segments older than the oldest kept snapshot's start (its restore window does not need them)")
	fs.BoolVar(&c.IncludeUsers, "include-users", false, "snapshots also copy admin.system.users and admin.system.roles")
	fs.StringVar(&c.EncryptionKeyFile, "encryption-key-file", "", "`FILE` of encryption keys: segments and snapshots are encrypted with its first key (one key per line; the others still decrypt; make one with: tailerd genkey -o FILE); or set "+crypt.EnvVar+" instead. Default: unencrypted")
	fs.StringVar(&c.HTTPAddr, "http-addr", "", "serve /metrics (Prometheus), /healthz, /readyz and /status on `HOST:PORT`, e.g. 127.0.0.1:9464 (default: off); tailerd status reads /status")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: tailerd --source URI --store STORE [--checkpoint DIR] [--config FILE] [flags]\n"+
			"       tailerd status [--http-addr HOST:PORT | --config FILE] [--json]\n"+
			"       tailerd genkey [-o FILE]\n\n"+
			"Exit codes: 0 clean shutdown, 1 runtime failure, 2 bad flags or config, 3 gap in the oplog,\n"+
			"4 source unreachable, 5 store unusable, 6 checkpoint unusable. Signals: SIGINT/SIGTERM stop,\n"+
			"SIGHUP rereads --config, SIGUSR1 takes a snapshot.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	c.args, c.configPath = args, *configPath
	c.flagsSet = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { c.flagsSet[f.Name] = true })
	if *configPath != "" {
		fc, warnings, err := loadConfigFile(*configPath)
		if err != nil {
			return c, err
		}
		c.file, c.warnings = fc, warnings
		c.fileConfig = merge(c.fileConfig, fc, c.flagsSet)
	}
	if err := c.checkSource(); err != nil {
		return c, err
	}
	if err := c.loadKeys(os.LookupEnv); err != nil {
		return c, err
	}
	if c.Store == "" {
		return c, errors.New("--store is required (a directory, s3://BUCKET/PREFIX?endpoint=HOST:PORT or kafka://HOST:PORT/TOPICPREFIX)")
	}
	if err := c.checkPublish(); err != nil {
		return c, err
	}
	ckptDir, err := checkpointDir(c.Store, c.Checkpoint)
	if err != nil {
		return c, err
	}
	c.Checkpoint = ckptDir
	if c.CutBytes <= 0 || c.CutBytes > 1<<30 {
		return c, fmt.Errorf("%s %d: want 1 byte to 1 GiB (1073741824)", c.opt("cut-bytes"), c.CutBytes)
	}
	if c.PollSettle < 50*time.Millisecond || c.PollSettle > time.Minute {
		return c, fmt.Errorf("%s %s: want 50ms to 1m", c.opt("poll-settle"), c.PollSettle)
	}
	if c.CutAge < 100*time.Millisecond || c.CutAge > 24*time.Hour {
		return c, fmt.Errorf("%s %s: want 100ms to 24h", c.opt("cut-age"), c.CutAge)
	}
	if c.SnapshotEvery < 0 || c.SnapshotEvery > 0 && c.SnapshotEvery < time.Second {
		return c, fmt.Errorf("%s %s: want 0 (on demand only) or at least 1s", c.opt("snapshot-every"), c.SnapshotEvery)
	}
	if c.SnapshotWorkers < 1 || c.SnapshotWorkers > 64 {
		return c, fmt.Errorf("%s %d: want 1 to 64", c.opt("snapshot-workers"), c.SnapshotWorkers)
	}
	if c.KeepSnapshots < 0 {
		return c, fmt.Errorf("%s %d: want 0 (no count rule) or more", c.opt("keep-snapshots"), c.KeepSnapshots)
	}
	if c.KeepFor < 0 || c.KeepFor > 0 && c.KeepFor < time.Second {
		return c, fmt.Errorf("%s %s: want 0 (no age rule) or at least 1s", c.opt("keep-for"), c.KeepFor)
	}
	if c.DiscoverEvery > 0 && c.DiscoverEvery < 100*time.Millisecond {
		return c, fmt.Errorf("%s %s: want 0 (never) or at least 100ms", c.opt("discover-every"), c.DiscoverEvery)
	}
	if c.HTTPAddr != "" {
		if err := checkListenAddr(c.HTTPAddr); err != nil {
			return c, fmt.Errorf("%s %w", c.opt("http-addr"), err)
		}
	}
	if _, err := zerolog.ParseLevel(c.LogLevel); err != nil || c.LogLevel == "" {
		return c, fmt.Errorf("%s %q: want debug, info, warn or error", c.opt("log-level"), c.LogLevel)
	}
	if c.ConnectTimeout <= 0 || c.ConnectTimeout > time.Hour {
		return c, fmt.Errorf("%s %s: want a duration from 1ms to 1h", c.opt("connect-timeout"), c.ConnectTimeout)
	}
	if c.Stream != "" {
		if err := store.ValidStream(c.Stream); err != nil {
			return c, fmt.Errorf("%s: %w", c.opt("stream"), err)
		}
	}
	if len(c.PublishTo) > 0 && c.SpoolMaxBytes < int64(c.CutBytes) {
		c.warnings = append(c.warnings, fmt.Sprintf("%s %d is less than %s %d: the spool holds one segment at a time, "+
			"so capture waits for every store after each segment; raise it to several segments", c.opt("spool-max-bytes"), c.SpoolMaxBytes, c.opt("cut-bytes"), c.CutBytes))
	}
	start, err := tailer.ParseStartAt(c.Start)
	if err != nil {
		return c, fmt.Errorf("%s: %w", c.opt("start"), err)
	}
	if !start.At.IsZero() && start.At.Time().After(time.Now().Add(time.Hour)) {
		return c, fmt.Errorf("%s %s is in the future (%s): want oldest, latest or a position the source's oplog already holds",
			c.opt("start"), c.Start, start.At.Time().Format(time.RFC3339))
	}
	mode := tailer.CursorMode(c.Cursor)
	if mode != tailer.CursorAuto && mode != tailer.CursorTailable && mode != tailer.CursorPoll {
		return c, fmt.Errorf("%s %q: want auto, tailable or poll", c.opt("cursor"), c.Cursor)
	}
	c.tailer = tailer.Config{
		Stream: c.Stream, CutBytes: c.CutBytes, CutAge: c.CutAge, Cursor: mode, PollSettle: c.PollSettle,
		Start: start, AcceptGap: c.AcceptGap, Keys: c.keys,
	}
	return c, nil
}

// merge takes each setting from the file unless its flag was given (or
// the file leaves it out).
func merge(flags, file fileConfig, set map[string]bool) fileConfig {
	out := flags
	ov, fv := reflect.ValueOf(&out).Elem(), reflect.ValueOf(file)
	for i := range fv.NumField() {
		key, v := yamlKey(fv.Type().Field(i)), fv.Field(i)
		if key == "" || set[flagFor(key)] || v.IsZero() || v.Kind() == reflect.Slice && v.Len() == 0 {
			continue
		}
		ov.Field(i).Set(v)
	}
	return out
}
