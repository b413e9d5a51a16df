package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/tidelog/tidelog/follow"
	"github.com/tidelog/tidelog/metrics"
	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/plan"
	"github.com/tidelog/tidelog/replay"
	"github.com/tidelog/tidelog/segment"
	"github.com/tidelog/tidelog/snapshot"
)

// followFlags are replayer follow's settings.
type followFlags struct {
	target, checkpoint, stream, until, httpAddr string
	delay, poll, readyLag, timeout              time.Duration
	drop                                        bool
	workers                                     int
	applyFlags
	storeFlags
}

func (f *followFlags) register(fs *flag.FlagSet) {
	f.storeFlags.register(fs)
	fs.StringVar(&f.target, "target", "", "MongoDB URI of the standby to keep in sync with the store (required)")
	fs.StringVar(&f.checkpoint, "checkpoint", "", "the follower's own checkpoint directory, one per standby (required; created on the first start)")
	fs.StringVar(&f.stream, "stream", "", "stream to follow (needed when the store holds several)")
	fs.DurationVar(&f.delay, "delay", 0, "apply an entry only once its ts is at least this old: a delayed standby")
	fs.StringVar(&f.until, "until", "", "apply every entry up to this position (T.I, T or RFC 3339), waiting for the store to reach it, then print the position applied and exit 0")
	fs.DurationVar(&f.poll, "poll", follow.DefaultPoll, "how often to look at the store's listing for new segments")
	fs.StringVar(&f.httpAddr, "http-addr", "", "serve /metrics, /healthz, /readyz and /status on HOST:PORT (port 0: any free port, logged)")
	fs.DurationVar(&f.readyLag, "ready-lag", follow.DefaultReadyLag, "/readyz answers ready while the apply lag (beyond --delay) is within this, or the follower is applying or caught up")
	fs.DurationVar(&f.timeout, "connect-timeout", 15*time.Second, "how long to wait for the target")
	fs.BoolVar(&f.drop, "drop", false, "first start only: let the initial restore replace namespaces the target already holds")
	fs.IntVar(&f.workers, "workers", 4, "collections the initial restore loads from the snapshot at once")
	f.applyFlags.register(fs)
}

// validate checks the flags without I/O.
func (f *followFlags) validate() (oplog.Timestamp, error) {
	switch {
	case f.target == "":
		return oplog.Timestamp{}, coded(exitUsage, errors.New("--target is required"))
	case f.checkpoint == "":
		return oplog.Timestamp{}, coded(exitUsage, errors.New("--checkpoint is required: a directory of the follower's own, where it commits how far the target is"))
	case f.delay < 0:
		return oplog.Timestamp{}, coded(exitUsage, fmt.Errorf("--delay %s: want 0 or more", f.delay))
	case f.poll < 10*time.Millisecond || f.poll > time.Minute:
		return oplog.Timestamp{}, coded(exitUsage, fmt.Errorf("--poll %s: want 10ms to 1m", f.poll))
	case f.readyLag <= 0:
		return oplog.Timestamp{}, coded(exitUsage, fmt.Errorf("--ready-lag %s: want a positive duration", f.readyLag))
	case checkTimeout(f.timeout) != nil:
		return oplog.Timestamp{}, checkTimeout(f.timeout)
	case f.httpAddr != "" && !validListenAddr(f.httpAddr):
		return oplog.Timestamp{}, coded(exitUsage, fmt.Errorf("--http-addr %q: want HOST:PORT with PORT a number from 0 (any free port) to 65535, e.g. 127.0.0.1:9310", f.httpAddr))
	case f.workers < 1 || f.workers > 64:
		return oplog.Timestamp{}, coded(exitUsage, fmt.Errorf("--workers %d: want 1 to 64", f.workers))
	}
	if f.until == "" {
		return oplog.Timestamp{}, nil
	}
	until, err := oplog.Parse(f.until)
	if err != nil {
		return oplog.Timestamp{}, coded(exitUsage, fmt.Errorf("--until: %w", err))
	}
	return until, nil
}

// validListenAddr checks a HOST:PORT to listen on without binding it.
func validListenAddr(addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	n, perr := strconv.Atoi(port)
	return err == nil && perr == nil && n >= 0 && n <= 65535
}

func followCmd(ctx context.Context, args []string, stdout, stderr io.Writer, log zerolog.Logger) error {
	fs := flag.NewFlagSet("follow", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var ff followFlags
	ff.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	until, err := ff.validate()
	if err != nil {
		return err
	}
	st, keys, err := ff.open(ctx, stderr)
	if err != nil {
		return err
	}
	defer closeStore(st)
	applyOpts, closeReport, err := ff.options()
	if err != nil {
		return coded(exitUsage, err)
	}
	client, err := connectTarget(ctx, ff.target, ff.timeout)
	if err != nil {
		closeReport()
		return err
	}
	defer client.Disconnect(context.WithoutCancel(ctx))
	f, err := follow.New(follow.Options{
		Store: st, Stream: ff.stream, Target: client, TargetName: targetName(ff.target), CheckpointDir: ff.checkpoint,
		Delay: ff.delay, Until: until, Poll: ff.poll, ReadyLag: ff.readyLag, Drop: ff.drop, Workers: ff.workers,
		Apply: applyOpts, Keys: keys.ring, RequireEncryption: keys.require, Log: log,
	})
	if err != nil {
		closeReport()
		return coded(exitUsage, err)
	}
	stopHTTP, err := serveFollower(ctx, ff.httpAddr, f, log)
	if err != nil {
		closeReport()
		return coded(exitUsage, err)
	}
	res, err := f.Run(ctx)
	stopHTTP()
	skipped, cerr := closeReport()
	if err != nil {
		return followError(err, ff.store)
	}
	if skipped > 0 {
		log.Warn().Int("skipped", skipped).Str("report", ff.skipUnsupported).Msg("entries could not be applied and were skipped; each is listed in the report")
	}
	if !res.Through.IsZero() {
		fmt.Fprintln(stdout, res.Through)
	}
	return cerr
}

// serveFollower serves the follower's endpoint on addr ("" none) until
// the returned stop is called. The address is bound at once, so a port
// already taken is reported before any work.
func serveFollower(ctx context.Context, addr string, f *follow.Follower, log zerolog.Logger) (func(), error) {
	if addr == "" {
		return func() {}, nil
	}
	reg := prometheus.NewRegistry()
	if err := reg.Register(f.Collector()); err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	srv := &metrics.Server{Registry: reg, Ready: f.Ready, Status: func() any { return f.Status() }, Log: log}
	ln, err := srv.Listen(addr)
	if err != nil {
		return nil, fmt.Errorf("--http-addr: %w", err)
	}
	log.Info().Str("http_addr", ln.Addr().String()).Msg("serving /metrics, /healthz, /readyz and /status")
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(sctx, ln); err != nil {
			log.Error().Err(err).Msg("the metrics endpoint stopped")
		}
	}()
	return func() {
		cancel()
		<-done
	}, nil
}

// targetName identifies the target in the checkpoint: its URI without
// credentials or options.
func targetName(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host + u.Path
}

// followError maps a follower's failure to its exit code. Unlike a
// restore's, its advice never says --after or --drop for a partial write:
// the follower resumes from its checkpoint by itself.
func followError(err error, storeLoc string) error {
	var (
		ge *follow.GapError
		le *follow.LateEntryError
		pe *follow.PastUntilError
		uc *follow.UnfinishedCycleError
		me *follow.MismatchError
		we *plan.WindowError
		ce *replay.ConflictError
		ue *replay.UnsupportedError
	)
	if code, ok := keyErrorCode(err); ok {
		return coded(code, err)
	}
	switch {
	case errors.As(err, &ge), errors.As(err, &le), errors.As(err, &pe), errors.As(err, &uc), errors.As(err, &we), errors.Is(err, follow.ErrPruned):
		return coded(exitWindow, err)
	case errors.Is(err, follow.ErrCheckpoint):
		return coded(exitCheckpoint, err)
	case errors.As(err, &me):
		return coded(exitUsage, err)
	case errors.As(err, &ce):
		return coded(exitConflict, fmt.Errorf("%w (on a first start, --drop lets the initial restore replace them)", err))
	case errors.As(err, &ue):
		return coded(exitUnsupported, fmt.Errorf("%w (or pass --skip-unsupported FILE to skip such entries and list them in FILE)", err))
	case errors.Is(err, segment.ErrCorrupt), errors.Is(err, snapshot.ErrCorrupt):
		return coded(exitDamaged, fmt.Errorf("%w; run `replayer verify --store %s` for a full report", err, storeLoc))
	}
	return err
}
