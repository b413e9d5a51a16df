package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tidelog/tidelog/checkpoint"
	"github.com/tidelog/tidelog/crypt"
	"github.com/tidelog/tidelog/cycle"
	"github.com/tidelog/tidelog/snapshot"
	"github.com/tidelog/tidelog/store"
	"github.com/tidelog/tidelog/tailer"
	"github.com/tidelog/tidelog/topology"
)

// pipelines runs one replica set's capture and backup cycle each, sharing
// the store and the checkpoint (whose keys are per stream), and keeps a
// registry of them: the running tailers for metrics and /status, the
// cycles so that SIGUSR1 and SIGHUP reach every one of them.
type pipelines struct {
	cfg  config
	st   store.Store
	ckpt *checkpoint.DB
	log  zerolog.Logger
	// named is false when following one replica set found from --source:
	// its stream is --stream or the set name the tailer reads, as before
	// clusters existed. In a cluster or a --member list every stream is the
	// replica set's Name (a shard's _id), which --stream cannot override.
	named bool

	// unclean counts pipelines stopped with an open segment not stored.
	unclean atomic.Int32
	// stoppedOnGap: a pipeline met a gap while tailerd was stopping, when
	// the supervisor no longer reports errors.
	stoppedOnGap atomic.Bool
	// restarts counts pipelines started again after a failure; gaps the
	// gaps capture stopped on.
	restarts, gaps atomic.Uint64

	mu sync.Mutex
	// streams holds every pipeline the supervisor runs, by replica set
	// name, from its first start until it is stopped on purpose: a failed
	// one stays, marked, while it waits to be restarted. Guarded by mu.
	streams map[string]*pipeState
	// cycleCfg is the backup cycle's configuration, which SIGHUP may
	// change. Guarded by mu.
	cycleCfg cycle.Config
}

// statser is what metrics and /status read of a tailer.
type statser interface{ Stats() tailer.Stats }

// pipeState is one pipeline as metrics, /readyz and /status see it. Its
// fields are guarded by pipelines.mu.
type pipeState struct {
	rs       topology.ReplicaSet
	tailer   statser       // the current run's tailer; nil before the first connect attempt
	cycle    *cycle.Runner // the current backup cycle; nil while none runs
	reload   chan struct{} // the cycle's settings changed (capacity 1)
	failed   error         // the last run's failure while it waits for a restart; nil while it runs
	failedAt time.Time
	restarts uint64
	// lastCommit carries the last checkpoint commit across restarts (a new
	// tailer's Stats starts from zero).
	lastCommit time.Time
	snaps      snapInfo
	// snapsTaken and snapsFailed count the snapshots the stream's backup
	// cycles took and failed to take since tailerd started.
	snapsTaken, snapsFailed uint64
}

// snapInfo is what the store held of the stream's snapshots when last looked.
type snapInfo struct {
	checked  time.Time // zero: not looked yet
	complete int
	newest   time.Time // Finished of the newest complete one
}

func newPipelines(cfg config, st store.Store, ckpt *checkpoint.DB, log zerolog.Logger, named bool) *pipelines {
	return &pipelines{cfg: cfg, st: st, ckpt: ckpt, log: log, named: named,
		streams: map[string]*pipeState{}, cycleCfg: cfg.cycle()}
}

// run is the capture.RunFunc: it captures rs until ctx ends (cutting and
// committing the open segment) or capture fails. The backup cycle runs
// beside it and stops with it.
func (p *pipelines) run(ctx context.Context, rs topology.ReplicaSet) error {
	log := p.log.With().Str("rs", rs.Name).Str("role", string(rs.Role)).Logger()
	ps := p.begin(rs)
	err := p.runOnce(ctx, rs, ps, log)
	p.end(ctx, rs.Name, ps, err)
	return err
}

func (p *pipelines) runOnce(ctx context.Context, rs topology.ReplicaSet, ps *pipeState, log zerolog.Logger) error {
	opts := options.Client().ApplyURI(rs.URI).SetServerSelectionTimeout(p.cfg.ConnectTimeout).SetAppName("tidelog-tailerd")
	client, err := mongo.Connect(opts)
	if err != nil {
		return &tailer.SourceError{Err: fmt.Errorf("connect to %s: %w", rs.RedactedURI(), err)}
	}
	defer func() {
		if err := client.Disconnect(context.WithoutCancel(ctx)); err != nil {
			log.Debug().Err(err).Msg("disconnecting from the replica set")
		}
	}()
	tcfg := p.cfg.tailer
	if p.named {
		tcfg.Stream = rs.Name
	}
	t := tailer.New(client, p.st, p.ckpt, tcfg, log)
	p.mu.Lock()
	ps.tailer = t
	p.mu.Unlock()

	sideCtx, stopSide := context.WithCancel(ctx)
	var side sync.WaitGroup
	side.Add(2)
	go func() {
		defer side.Done()
		p.runCycle(sideCtx, client, rs.Name, ps, t.Stream, log)
	}()
	go func() {
		defer side.Done()
		p.watchSnapshots(sideCtx, ps, t.Stream, log)
	}()
	err = t.Run(ctx)
	stopSide()
	side.Wait()
	if ctx.Err() != nil {
		var gap *tailer.GapError
		if errors.As(err, &gap) {
			// Found while stopping: still lost history, still exit 3.
			p.stoppedOnGap.Store(true)
			return err
		}
		if err != nil {
			// The supervisor drops errors of a pipeline it stopped; this
			// one must still reach the operator.
			p.unclean.Add(1)
			log.Warn().Err(err).Msg("capture stopped, but the open segment could not be stored: its entries are read again from the source at the next start, if its oplog still holds them")
			return err
		}
		log.Info().Msg("capture stopped: open segment cut and committed")
	}
	return err
}

// begin registers a run of rs's pipeline; a run after a failed one is a
// restart.
func (p *pipelines) begin(rs topology.ReplicaSet) *pipeState {
	p.mu.Lock()
	defer p.mu.Unlock()
	ps, ok := p.streams[rs.Name]
	if !ok {
		ps = &pipeState{reload: make(chan struct{}, 1)}
		p.streams[rs.Name] = ps
	}
	if ps.failed != nil {
		ps.restarts++
		p.restarts.Add(1)
	}
	ps.rs, ps.failed, ps.failedAt = rs, nil, time.Time{}
	select {
	case <-ps.reload: // the new run's cycle starts with the current settings anyway
	default:
	}
	return ps
}

// end records how a run ended: a pipeline stopped on purpose leaves the
// registry, a failed one stays, marked, until the supervisor restarts it.
func (p *pipelines) end(ctx context.Context, name string, ps *pipeState, err error) {
	var gap *tailer.GapError
	if errors.As(err, &gap) {
		p.gaps.Add(1)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if ps.tailer != nil {
		if lc := ps.tailer.Stats().LastCommit; lc.After(ps.lastCommit) {
			ps.lastCommit = lc
		}
	}
	if ctx.Err() != nil {
		if p.streams[name] == ps {
			delete(p.streams, name)
		}
		return
	}
	if err == nil {
		err = errors.New("pipeline returned without being asked to stop")
	}
	ps.failed, ps.failedAt = err, time.Now()
}

// forget drops pipelines of replica sets that left the deployment: the
// supervisor stops them, and one waiting for its restart never runs again.
func (p *pipelines) forget(removed []topology.ReplicaSet) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, rs := range removed {
		if ps, ok := p.streams[rs.Name]; ok && ps.failed != nil {
			delete(p.streams, rs.Name)
		}
	}
}

// cycleConfig is the backup cycle's configuration for the replica set now.
func (p *pipelines) cycleConfig(name string) cycle.Config {
	p.mu.Lock()
	c := p.cycleCfg
	p.mu.Unlock()
	if p.named {
		c.Snapshot.Stream = name
	}
	return c
}

// setCycleConfig changes every pipeline's backup cycle (SIGHUP); each
// restarts its cycle with it once no snapshot of its own is being taken.
func (p *pipelines) setCycleConfig(c cycle.Config) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cycleCfg = c
	for _, ps := range p.streams {
		select {
		case ps.reload <- struct{}{}:
		default:
		}
	}
}

// runCycle runs the replica set's backup cycle until ctx ends, restarting
// it with the new settings when they change. A cycle that fails stays
// stopped (capture goes on) until capture restarts or the settings change.
func (p *pipelines) runCycle(ctx context.Context, client *mongo.Client, name string, ps *pipeState, stream func() string, log zerolog.Logger) {
	for {
		r := cycle.New(client, p.st, p.ckpt, p.cycleConfig(name), log)
		r.OnSnapshot(func(taken bool) { p.countSnapshot(ps, taken) })
		p.mu.Lock()
		ps.cycle = r
		p.mu.Unlock()
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := r.Run(runCtx); err != nil {
				log.Error().Err(err).Msg("backup cycle stopped: no more snapshots of this replica set until its capture restarts or SIGHUP; capture goes on")
			}
		}()
		reload := false
		select {
		case <-ctx.Done():
		case <-ps.reload:
			reload = true
		case <-done:
			select {
			case <-ctx.Done():
			case <-ps.reload:
				reload = true
			}
		}
		if reload {
			p.awaitNoSnapshot(ctx, stream(), log)
		}
		cancel()
		<-done
		p.mu.Lock()
		ps.cycle = nil
		p.mu.Unlock()
		if !reload || ctx.Err() != nil {
			return
		}
		log.Info().Msg("backup cycle restarted with the reloaded settings")
	}
}

// awaitNoSnapshot waits until no snapshot of the stream is being taken, so
// that a reload never abandons one half-copied. Only this daemon writes a
// stream's snapshots, so one without a manifest is in progress (a damaged
// manifest is kept for a person, and does not count).
func (p *pipelines) awaitNoSnapshot(ctx context.Context, stream string, log zerolog.Logger) {
	if stream == "" {
		return
	}
	logged := false
	for {
		busy, err := p.snapshotInProgress(ctx, stream)
		if err == nil && !busy {
			return
		}
		if !logged {
			log.Info().Err(err).Msg("backup cycle settings reloaded: they apply once the snapshot in progress ends")
			logged = true
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Second):
		}
	}
}

// snapshotInProgress: the stream has a snapshot without a manifest
// (Listing.Incomplete; a damaged manifest is in Listing.Damaged).
func (p *pipelines) snapshotInProgress(ctx context.Context, stream string) (bool, error) {
	l, err := snapshot.ListWith(ctx, p.st, stream, p.readOptions())
	return len(l.Incomplete) > 0, err
}

// readOptions reads the stream's snapshots with tailerd's keys, and
// plaintext ones as well (taken before encryption was turned on).
func (p *pipelines) readOptions() snapshot.ReadOptions {
	return snapshot.ReadOptions{Keys: p.cfg.keys}
}

// countSnapshot counts a snapshot the stream's backup cycle took or failed
// to take.
func (p *pipelines) countSnapshot(ps *pipeState, taken bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if taken {
		ps.snapsTaken++
	} else {
		ps.snapsFailed++
	}
}

// snapshotCheckEvery is how often each stream's snapshots are listed for
// the snapshot metrics: one listing of the store per stream and minute.
const snapshotCheckEvery = time.Minute

// watchSnapshots keeps ps.snaps current until ctx ends.
func (p *pipelines) watchSnapshots(ctx context.Context, ps *pipeState, stream func() string, log zerolog.Logger) {
	wait := 2 * time.Second // until the tailer has named the stream
	var enc *cycle.EncryptionStart
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		name := stream()
		if name == "" {
			continue
		}
		wait = snapshotCheckEvery
		if enc == nil || enc.Stream() != name {
			enc = cycle.NewEncryptionStart(p.st, name, p.cfg.keys)
		}
		info, err := p.lookAtSnapshots(ctx, enc)
		if err != nil {
			if ctx.Err() == nil {
				log.Debug().Err(err).Msg("listing snapshots for metrics failed")
			}
			continue
		}
		p.mu.Lock()
		ps.snaps = info
		p.mu.Unlock()
	}
}

// lookAtSnapshots counts the stream's complete snapshots as the backup
// cycle does: a plaintext snapshot that does not predate the stream's
// encryption ("once encrypted, always encrypted": forged, or taken by a
// tailerd without its key) counts for nothing, nor does one tailerd cannot
// read; the cycle logs them, and they are kept. enc keeps where the
// encryption began from one look to the next.
func (p *pipelines) lookAtSnapshots(ctx context.Context, enc *cycle.EncryptionStart) (snapInfo, error) {
	from, err := enc.From(ctx)
	if err != nil {
		return snapInfo{}, err
	}
	opts := p.readOptions()
	opts.SegmentsEncryptedFrom = from
	l, err := snapshot.ListWith(ctx, p.st, enc.Stream(), opts)
	if err != nil {
		return snapInfo{}, err
	}
	info := snapInfo{checked: time.Now(), complete: len(l.Complete)}
	for _, m := range l.Complete {
		if m.Finished.After(info.newest) {
			info.newest = m.Finished
		}
	}
	return info, nil
}

// triggerSnapshots asks every running cycle for a snapshot now. Each
// replica set's snapshot is its own: a cluster restore to T starts each
// replica set from its newest snapshot before T and replays to T.
func (p *pipelines) triggerSnapshots() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ps := range p.streams {
		if ps.cycle != nil {
			ps.cycle.Trigger()
		}
	}
}

// pipeView is a copy of one pipeline's state, taken under mu, for metrics
// and /status.
type pipeView struct {
	name       string
	rs         topology.ReplicaSet
	stats      tailer.Stats
	hasTailer  bool
	failed     error
	failedAt   time.Time
	restarts   uint64
	lastCommit time.Time
	snaps      snapInfo
	// snapsTaken and snapsFailed: see pipeState.
	snapsTaken, snapsFailed uint64
}

// stream is the pipeline's stream name: the tailer's once it knows it.
func (v pipeView) stream() string {
	if v.stats.Stream != "" {
		return v.stats.Stream
	}
	return v.name
}

// connected: the tailer has reached its source and found its oplog.
func (v pipeView) connected() bool { return v.hasTailer && v.stats.Cursor != "" }

// checkpointAge is how long since the stream's last checkpoint commit.
func (v pipeView) checkpointAge(now time.Time) (time.Duration, bool) {
	last := v.lastCommit
	if v.stats.LastCommit.After(last) {
		last = v.stats.LastCommit
	}
	if last.IsZero() {
		return 0, false
	}
	return max(now.Sub(last), 0), true
}

// views copies every pipeline's state, sorted by name.
func (p *pipelines) views() []pipeView {
	p.mu.Lock()
	out := make([]pipeView, 0, len(p.streams))
	tailers := make([]statser, 0, len(p.streams))
	for name, ps := range p.streams {
		out = append(out, pipeView{name: name, rs: ps.rs, hasTailer: ps.tailer != nil, failed: ps.failed, failedAt: ps.failedAt,
			restarts: ps.restarts, lastCommit: ps.lastCommit, snaps: ps.snaps, snapsTaken: ps.snapsTaken, snapsFailed: ps.snapsFailed})
		tailers = append(tailers, ps.tailer)
	}
	p.mu.Unlock()
	// Stats takes the tailer's own lock: not under ours.
	for i, t := range tailers {
		if t != nil {
			out[i].stats = t.Stats()
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// ready is /readyz: every pipeline has connected and none waits for a
// restart after a failure.
func (p *pipelines) ready() error {
	views := p.views()
	if len(views) == 0 {
		return errors.New("no replica set is being captured yet")
	}
	var problems []error
	for _, v := range views {
		switch {
		case v.failed != nil:
			problems = append(problems, fmt.Errorf("stream %s failed and waits for a restart: %w", v.stream(), v.failed))
		case !v.connected():
			problems = append(problems, fmt.Errorf("stream %s: not connected to its replica set yet", v.stream()))
		}
	}
	return errors.Join(problems...)
}

// fatal says which pipeline errors stop the whole daemon instead of a
// restart with backoff: lost history needs a person's decision, and a
// location that is not a tidelog store or a checkpoint that is not ours
// will not mend by retrying, nor will a store that disagrees with the
// checkpoint, nor a segment tailerd must read without its key. A source or store outage is retried.
func fatal(err error) bool {
	var gap *tailer.GapError
	return errors.As(err, &gap) || errors.Is(err, store.ErrNotStore) || errors.Is(err, checkpoint.ErrCorrupt) ||
		errors.Is(err, tailer.ErrStoreMismatch) || errors.Is(err, crypt.ErrKeyRequired) || errors.Is(err, crypt.ErrWrongKey)
}
