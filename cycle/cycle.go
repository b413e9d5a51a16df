// Package cycle runs tailerd's backup cycle beside capture: a base snapshot
// on a schedule or on demand, then retention — old snapshots deleted, and
// the segments no kept snapshot needs pruned. Capture never waits for it.
package cycle

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/tidelog/tidelog/catalog"
	"github.com/tidelog/tidelog/checkpoint"
	"github.com/tidelog/tidelog/crypt"
	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/plan"
	"github.com/tidelog/tidelog/retention"
	"github.com/tidelog/tidelog/snapshot"
	"github.com/tidelog/tidelog/store"
)

// Config is what the cycle does.
type Config struct {
	// Every is the time between scheduled snapshots, counted from the end of
	// the newest complete one (so a restart does not take an extra one); 0:
	// only on demand.
	Every time.Duration
	// Retention decides which snapshots stay; the zero Policy keeps all.
	Retention retention.Policy
	// Prune deletes the segments no kept snapshot needs. Without it, segments
	// are kept forever, and the start-of-capture window with them.
	Prune bool
	// Snapshot options; Stream empty: the replica set name.
	Snapshot snapshot.Options
}

// Runner runs the cycle for one stream.
type Runner struct {
	client  *mongo.Client
	st      store.Store
	ckpt    *checkpoint.DB
	cfg     Config
	log     zerolog.Logger
	now     func() time.Time
	trigger chan struct{}
	// usableWait bounds how long retention waits for a new snapshot to
	// become restorable (tailerd to cut the segments through its End).
	usableWait time.Duration
	// retryMin is the wait after a failed snapshot, doubled after each
	// further failure up to retryMax: with no complete snapshot a snapshot
	// is always due, and a failure (an empty oplog, a full disk) would
	// otherwise be retried at once, in a loop.
	retryMin, retryMax time.Duration
	// cleanupRetry is the wait before removing interrupted snapshots again
	// after the store did not answer; leftovers is set while some may be
	// left (at start, and after a failed snapshot whose files could not
	// be removed).
	cleanupRetry time.Duration
	leftovers    atomic.Bool
	// listRetry is the wait before a snapshot when the schedule cannot be
	// worked out and this Run has taken none yet.
	listRetry time.Duration

	encMu sync.Mutex
	enc   *EncryptionStart // for the stream last asked about; see encryption
	// onSnapshot, if set, hears of each snapshot Run takes or fails to take.
	onSnapshot func(taken bool)
}

// New returns a Runner. ckpt may be nil (no checkpoint to keep in step).
func New(client *mongo.Client, st store.Store, ckpt *checkpoint.DB, cfg Config, log zerolog.Logger) *Runner {
	return &Runner{client: client, st: st, ckpt: ckpt, cfg: cfg, log: log.With().Str("part", "cycle").Logger(),
		now: time.Now, trigger: make(chan struct{}, 1), usableWait: 2 * time.Minute,
		retryMin: 10 * time.Second, retryMax: 10 * time.Minute, cleanupRetry: time.Minute, listRetry: time.Minute}
}

// OnSnapshot has fn told of each snapshot Run takes (taken true) or fails
// to take (false; not one cut short because Run is stopping), for
// metrics. A snapshot taken whose retention failed counts as taken. Call
// it before Run.
func (r *Runner) OnSnapshot(fn func(taken bool)) { r.onSnapshot = fn }

// Trigger asks for a snapshot now (tailerd does on SIGUSR1). Triggers that
// arrive while one is pending or running are merged into it.
func (r *Runner) Trigger() {
	select {
	case r.trigger <- struct{}{}:
	default:
	}
}

// Run cleans up snapshots a crash interrupted (again every cleanupRetry
// while the store does not answer), then takes snapshots when due or
// triggered until ctx ends. A failed snapshot is logged and retried at
// the next occasion; it never stops capture. Run returns (a *NoKeyError)
// only when tailerd has no key and the stream's snapshots are encrypted:
// retrying cannot mend that.
func (r *Runner) Run(ctx context.Context) error {
	stream, err := r.stream(ctx)
	for err != nil {
		r.log.Warn().Err(err).Msg("backup cycle waiting for the source; retrying in 10s")
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(10 * time.Second):
		}
		stream, err = r.stream(ctx)
	}
	r.leftovers.Store(true)   // a crash may have interrupted a snapshot
	var backoff time.Duration // after failed snapshots; 0 after a good one
	var retryAt time.Time     // the end of the backoff after the last failure
	var lastTaken time.Time   // when this Run's newest snapshot finished
	for {
		var cleanupAgain <-chan time.Time
		if r.leftovers.Load() {
			if err := r.dropIncomplete(ctx, stream); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				r.log.Warn().Err(err).Dur("retry_in", r.cleanupRetry).Msg("could not remove interrupted snapshots; trying again")
				cleanupAgain = time.After(r.cleanupRetry)
			} else {
				r.leftovers.Store(false)
			}
		}
		wait, err := r.untilDue(ctx, stream)
		if err != nil {
			// Counted from this Run's last snapshot: a listing that keeps
			// failing (a damaged segment header, a manifest of a newer
			// format) would otherwise take a snapshot every minute, none
			// of which retention, which lists too, could delete.
			wait = r.listRetry
			if !lastTaken.IsZero() {
				wait = max(wait, lastTaken.Add(r.cfg.Every).Sub(r.now()))
			}
			r.log.Warn().Err(err).Dur("next_in", wait).
				Msg("cannot list snapshots to schedule the next one; it is taken --snapshot-every after the last one this run took")
		}
		if rest := time.Until(retryAt); backoff > 0 && wait >= 0 && wait < rest {
			wait = rest // a trigger (SIGUSR1) still takes one at once
		}
		var timer *time.Timer
		var due <-chan time.Time
		if wait >= 0 {
			timer = time.NewTimer(wait)
			due = timer.C
		}
		cleanupDue := false
		select {
		case <-ctx.Done():
		case <-due:
		case <-r.trigger:
			r.log.Info().Msg("snapshot requested")
		case <-cleanupAgain:
			cleanupDue = true
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return nil
		}
		if cleanupDue {
			continue
		}
		m, err := r.Cycle(ctx)
		if r.onSnapshot != nil && (m != nil || ctx.Err() == nil) {
			r.onSnapshot(m != nil)
		}
		if m != nil {
			lastTaken = m.Finished
		}
		if err != nil && ctx.Err() == nil && m != nil {
			r.log.Error().Err(err).Str("snapshot", m.ID).
				Msg("retention failed after the snapshot (which is complete); it runs again after the next snapshot")
		}
		if err != nil && ctx.Err() == nil && m == nil {
			var ne *NoKeyError
			if errors.As(err, &ne) {
				return err // no snapshot can be taken until tailerd has the key
			}
			backoff = min(max(2*backoff, r.retryMin), r.retryMax)
			retryAt = time.Now().Add(backoff)
			r.log.Error().Err(err).Dur("retry_in", backoff).
				Msg("snapshot failed; the stream's older snapshots and segments are untouched")
			continue
		}
		backoff = 0
	}
}

// untilDue is how long until the next scheduled snapshot; negative: none
// is scheduled (only on demand).
func (r *Runner) untilDue(ctx context.Context, stream string) (time.Duration, error) {
	if r.cfg.Every <= 0 {
		return -1, nil
	}
	from, err := r.encryption(stream).From(ctx)
	if err != nil {
		return 0, err
	}
	l, err := r.listFrom(ctx, stream, from)
	if err != nil {
		return 0, err
	}
	complete := l.Complete
	if len(complete) == 0 {
		return 0, nil
	}
	due := complete[len(complete)-1].Finished.Add(r.cfg.Every)
	return max(due.Sub(r.now()), 0), nil
}

// Cycle takes one snapshot and applies retention.
func (r *Runner) Cycle(ctx context.Context) (*snapshot.Manifest, error) {
	stream, err := r.stream(ctx)
	if err != nil {
		return nil, err
	}
	opts := r.cfg.Snapshot
	opts.Stream = stream
	opts.Now = r.now // the schedule counts from Finished: one clock for both
	if opts.Keys.Len() == 0 {
		if err := r.refuseWithoutKey(ctx, stream); err != nil {
			return nil, err
		}
	}
	started := r.now()
	m, err := r.take(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("snapshot of %s: %w", stream, err)
	}
	r.log.Info().Str("snapshot", m.ID).Stringer("start", m.Start).Stringer("end", m.End).Int64("docs", m.Docs).
		Int64("bytes", m.Bytes).Dur("took", r.now().Sub(started)).Msg("snapshot complete: restorable from its end once segments reach it")
	if r.cfg.Retention != (retention.Policy{}) || r.cfg.Prune {
		// Retention counts only snapshots a restore can use: give the new
		// one the moments it needs to become one, so it counts this time.
		r.awaitUsable(ctx, stream, m)
	}
	if err := r.Retain(ctx, stream); err != nil {
		return m, fmt.Errorf("retention after snapshot %s: %w", m.ID, err)
	}
	return m, nil
}

// awaitUsable polls, up to usableWait, until segments reach m's End. If
// they do not (capture lags, or stopped), retention keeps m uncounted.
func (r *Runner) awaitUsable(ctx context.Context, stream string, m *snapshot.Manifest) {
	base := plan.Base{ID: m.ID, Start: m.Start, End: m.End}
	deadline := time.Now().Add(r.usableWait)
	for {
		cat, err := catalog.LoadStream(ctx, r.st, stream)
		if err == nil && retention.Usable(cat, base) {
			return
		}
		if time.Now().After(deadline) {
			r.log.Warn().Str("snapshot", m.ID).Stringer("end", m.End).Msg("segments do not reach the new snapshot's end yet: retention keeps it without counting it, and keeps the older usable ones")
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// renameAttempts bounds the retries of a snapshot that a rename spoiled:
// renames are rare and quick, so the next attempt almost always succeeds,
// but a workload that renames all the time ($out on a timer) must not keep
// the cycle busy forever.
const renameAttempts = 3

// take takes a snapshot, again at once if a rename spoiled it, and removes
// what a failed attempt stored: no other writer of this stream's snapshots
// runs beside the cycle, so the files are of no use to anyone.
func (r *Runner) take(ctx context.Context, opts snapshot.Options) (*snapshot.Manifest, error) {
	for attempt := 1; ; attempt++ {
		m, err := snapshot.Take(ctx, r.client, r.st, opts, r.log)
		if err == nil {
			return m, nil
		}
		if ctx.Err() != nil {
			return nil, err // the next start removes the files
		}
		if cerr := r.dropIncomplete(ctx, opts.Stream); cerr != nil {
			r.leftovers.Store(true)
			r.log.Warn().Err(cerr).Msg("could not remove the failed snapshot's files; trying again later")
		}
		if !errors.Is(err, snapshot.ErrRenamed) || attempt == renameAttempts {
			return nil, err
		}
		r.log.Warn().Err(err).Int("attempt", attempt).Msg("snapshot spoiled by a rename; taking it again")
	}
}

// Retain deletes the snapshots the policy drops, then (with Prune) the
// segments no kept snapshot needs: from the checkpoint first, then from the
// store, so a crash between the two leaves only unlisted files that the
// next pass deletes again.
//
// A snapshot the cycle cannot read (encrypted with a key it does not hold)
// is neither counted nor deleted, and while there is one no segment is
// pruned: its manifest, and so the segments it needs, are unknown.
//
// Nor is a plaintext snapshot of a stream whose encryption began before it
// (snapshot.ListWith): forged, or taken by a tailerd without its key, it
// must not pass for the newest snapshot and have the real ones deleted.
func (r *Runner) Retain(ctx context.Context, stream string) error {
	cat, err := catalog.LoadStream(ctx, r.st, stream)
	if err != nil {
		return err
	}
	enc := r.encryption(stream)
	enc.Note(cat) // an earlier start seen before pruning still holds
	from, err := enc.From(ctx)
	if err != nil {
		return err
	}
	l, err := r.listFrom(ctx, stream, from)
	if err != nil {
		return err
	}
	snaps := make([]retention.Snapshot, len(l.Complete))
	for i, m := range l.Complete {
		snaps[i] = retention.Snapshot{Base: plan.Base{ID: m.ID, Start: m.Start, End: m.End}, Finished: m.Finished}
	}
	keep, drop := retention.Decide(cat, snaps, r.cfg.Retention, r.now())
	for _, s := range drop {
		if err := r.st.DeleteSnapshot(ctx, stream, s.ID); err != nil {
			return err
		}
		r.log.Info().Str("snapshot", s.ID).Str("policy", r.cfg.Retention.String()).Msg("snapshot deleted by retention")
	}
	if !r.cfg.Prune {
		return nil
	}
	if len(l.Unreadable) > 0 {
		r.log.Error().Str("snapshot", l.Unreadable[0].ID).Int("unreadable", len(l.Unreadable)).
			Msg("pruning skipped: a snapshot cannot be used, so the segments it needs are unknown; give tailerd its key (keep old keys in the key file), or move a refused plaintext snapshot out of the store (see the errors above)")
		return nil
	}
	names := retention.Prunable(cat, keep)
	if len(names) == 0 {
		return nil
	}
	if r.ckpt != nil {
		if err := r.ckpt.DeleteSegments(stream, names); err != nil {
			return err
		}
	}
	for _, n := range names {
		if err := r.st.DeleteSegment(ctx, stream, n); err != nil {
			return err
		}
	}
	r.log.Info().Int("segments", len(names)).Str("first", names[0]).Str("last", names[len(names)-1]).
		Msg("pruned segments older than the oldest kept snapshot's start")
	return nil
}

// dropIncomplete deletes snapshots without a manifest: only this daemon
// writes the stream's snapshots, one at a time, so when none is being taken
// any such one was interrupted (by a crash or an error) and can never
// complete. A snapshot whose manifest is damaged is kept: its data files
// may be intact, and a person decides.
//
// Only the store's answer "no manifest" deletes, and only an answer about
// the manifest (damaged, locked, newer) keeps: a read that failed (the
// store did not answer, or ctx ended) says nothing about the snapshot, so
// it is an error, and the caller tries again later.
func (r *Runner) dropIncomplete(ctx context.Context, stream string) error {
	l, err := r.listManifests(ctx, stream)
	if err != nil {
		return err
	}
	for _, d := range l.Damaged {
		r.log.Error().Err(d.Err).Str("snapshot", d.ID).Msg("snapshot has a damaged manifest: it is not used for restores and is kept for inspection; delete it by hand when done")
	}
	var failed []error
	for _, id := range l.Incomplete {
		// Read again just before deleting: only a snapshot with no manifest
		// at all was interrupted.
		_, err := snapshot.ReadManifestWith(ctx, r.st, stream, id, r.readOptions(oplog.Timestamp{}))
		switch {
		case err == nil, manifestThere(err):
			continue // completed meanwhile, or a manifest the listing will report
		case !errors.Is(err, snapshot.ErrIncomplete):
			failed = append(failed, fmt.Errorf("snapshot %s/%s has no manifest in the listing, but reading it again failed, so it is kept for now: %w", stream, id, err))
			continue
		}
		if err := r.st.DeleteSnapshot(ctx, stream, id); err != nil {
			failed = append(failed, fmt.Errorf("delete interrupted snapshot %s/%s: %w", stream, id, err))
			continue
		}
		r.log.Warn().Str("snapshot", id).Msg("deleted a snapshot that a crash interrupted (it was never complete, so never restorable)")
	}
	return errors.Join(failed...)
}

// manifestThere reports whether a manifest read failed on what the manifest
// holds rather than on reading it: damaged, encrypted with a key not
// given, or of a newer format.
func manifestThere(err error) bool {
	return errors.Is(err, snapshot.ErrCorrupt) || errors.Is(err, snapshot.ErrKeyRequired) ||
		errors.Is(err, snapshot.ErrWrongKey) || errors.Is(err, snapshot.ErrUnsupported) || errors.Is(err, snapshot.ErrNotEncrypted)
}

// readOptions reads the stream's snapshots with the keys snapshots are
// taken with. Plaintext is accepted where it predates the stream's
// encryption (before encryptedFrom, the first encrypted segment, zero if
// none): snapshots taken before encryption was turned on are still the
// stream's own.
func (r *Runner) readOptions(encryptedFrom oplog.Timestamp) snapshot.ReadOptions {
	return snapshot.ReadOptions{Keys: r.cfg.Snapshot.Keys, SegmentsEncryptedFrom: encryptedFrom}
}

// listManifests lists the stream's snapshots by their manifests alone,
// without reading every segment header of the stream (catalog.LoadStream)
// as list does: enough where only the incomplete, damaged and key-locked
// ones matter, which the segments' encryption does not change.
func (r *Runner) listManifests(ctx context.Context, stream string) (snapshot.Listing, error) {
	return snapshot.ListWith(ctx, r.st, stream, r.readOptions(oplog.Timestamp{}))
}

// encryption is the stream's EncryptionStart, kept across passes: where
// encryption began is read from the store once, not every pass.
func (r *Runner) encryption(stream string) *EncryptionStart {
	r.encMu.Lock()
	defer r.encMu.Unlock()
	if r.enc == nil || r.enc.Stream() != stream {
		r.enc = NewEncryptionStart(r.st, stream, r.cfg.Snapshot.Keys)
	}
	return r.enc
}

// listFrom lists the stream's snapshots, refusing plaintext ones that do
// not predate encryptedFrom (EncryptionStart), and logs loudly each one
// it cannot use: it is neither complete nor incomplete to the cycle, so it
// is never counted by the schedule or retention, and never deleted.
func (r *Runner) listFrom(ctx context.Context, stream string, encryptedFrom oplog.Timestamp) (snapshot.Listing, error) {
	l, err := snapshot.ListWith(ctx, r.st, stream, r.readOptions(encryptedFrom))
	if err != nil {
		return l, err
	}
	for _, u := range l.Unreadable {
		ev := r.log.Error().Err(u.Err).Str("snapshot", u.ID)
		var ke *crypt.KeyError
		if !errors.As(u.Err, &ke) {
			ev.Msg("snapshot refused: it is not counted by the schedule or retention, is kept, and no segment is pruned while it is there; check where it came from, then move it out of the store")
			continue
		}
		ev.Stringer("key_id", ke.KeyID).
			Msg("snapshot cannot be read with tailerd's keys: it is not counted by the schedule or retention, and is kept; put its key in the key file (below the current one)")
	}
	return l, nil
}

// refuseWithoutKey fails when tailerd has no key and the stream's
// snapshots are encrypted: a snapshot taken now would be plaintext after
// encrypted ones, which every reader refuses (and which would quietly
// store the data unencrypted).
func (r *Runner) refuseWithoutKey(ctx context.Context, stream string) error {
	l, err := r.listManifests(ctx, stream)
	if err != nil {
		return err
	}
	for _, u := range l.Unreadable {
		var ke *crypt.KeyError
		if errors.As(u.Err, &ke) {
			return &NoKeyError{Stream: stream, Snapshot: u.ID, KeyID: ke.KeyID}
		}
	}
	return nil
}

// NoKeyError refuses to take a snapshot without a key in a stream whose
// snapshots are encrypted. It matches crypt.ErrKeyRequired.
type NoKeyError struct {
	Stream, Snapshot string
	KeyID            crypt.KeyID
}

func (e *NoKeyError) Error() string {
	return "the snapshots of stream " + e.Stream + " are encrypted (snapshot " + e.Snapshot + " with key " + e.KeyID.String() +
		") but no key is given: give it (--encryption-key-file or " + crypt.EnvVar + "); tidelog does not turn encryption off"
}

// Is matches crypt.ErrKeyRequired.
func (e *NoKeyError) Is(target error) bool { return target == crypt.ErrKeyRequired }

// stream is the configured stream, or the replica set's name.
func (r *Runner) stream(ctx context.Context) (string, error) {
	if r.cfg.Snapshot.Stream != "" {
		return r.cfg.Snapshot.Stream, nil
	}
	var hello struct {
		SetName string `bson:"setName"`
	}
	if err := r.client.Database("admin").RunCommand(ctx, bson.D{{Key: "hello", Value: 1}}).Decode(&hello); err != nil {
		return "", fmt.Errorf("ask the source its replica set name: %w", err)
	}
	if hello.SetName == "" {
		return "", errors.New("the source is not a replica set member: snapshots need one (and so does the oplog)")
	}
	r.cfg.Snapshot.Stream = hello.SetName
	return hello.SetName, nil
}
