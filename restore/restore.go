// Package restore brings a target to a chosen position of a stream: it plans
// (which snapshot, which segments), verifies everything it will read and
// checks the target before the first write, loads the snapshot, then
// replays the segments from the snapshot's start through the position.
package restore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/tidelog/tidelog/catalog"
	"github.com/tidelog/tidelog/crypt"
	"github.com/tidelog/tidelog/load"
	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/plan"
	"github.com/tidelog/tidelog/progress"
	"github.com/tidelog/tidelog/replay"
	"github.com/tidelog/tidelog/segment"
	"github.com/tidelog/tidelog/snapshot"
	"github.com/tidelog/tidelog/store"
)

// Options say what to restore where.
type Options struct {
	// Stream to restore; empty is fine when the store holds exactly one.
	Stream string
	// To is the last position to include; oplog.Max: the latest restorable.
	To oplog.Timestamp
	// Drop replaces namespaces the target already holds; without it they
	// are refused before any write.
	Drop bool
	// Workers load the snapshot in parallel (0: 4).
	Workers int
	// Apply selects, renames and filters what is written.
	Apply replay.Options
	// Progress shows the verification, load and replay as they go; nil:
	// log lines.
	Progress *progress.Display
	// Keys decrypt encrypted segments and snapshots; nil: an encrypted one
	// fails, naming its key id.
	Keys *crypt.Keyring
	// RequireEncryption refuses plaintext segments and snapshots, which
	// anyone who can write to the store could forge (replayer sets it when
	// given keys, unless --allow-unencrypted).
	RequireEncryption bool
}

// segmentOptions is how segments are read.
func (o Options) segmentOptions() segment.ReaderOptions {
	return segment.ReaderOptions{Keys: o.Keys, RequireEncryption: o.RequireEncryption}
}

// snapshotOptions is how the snapshots of stream s are read: plaintext
// ones are the stream's own only before its first encrypted segment.
func (o Options) snapshotOptions(s *catalog.Stream) snapshot.ReadOptions {
	from, _ := s.EncryptedFrom()
	return snapshot.ReadOptions{Keys: o.Keys, RequireEncryption: o.RequireEncryption, SegmentsEncryptedFrom: from}
}

// Prepared is a restore planned and ready to run (or to print: --dry-run).
type Prepared struct {
	Stream   string
	Plan     plan.Plan
	Snapshot *snapshot.Manifest // nil: from the start of capture
	// Unreadable are the stream's snapshots the plan could not consider:
	// encrypted with a key not given, plaintext where encryption is
	// required or after the stream's encryption began, or with a damaged
	// manifest. The plan is still exact (it replays from an older base),
	// but may read more than it would with them. A restore to the latest
	// position fails instead (*LatestError) when one of them could have
	// reached further.
	Unreadable []snapshot.Unreadable
	// read is how Source and Lookahead read segments (keys).
	read segment.ReaderOptions
	// Beyond is the plan's last segment and the segments that follow it in
	// its window: read past Plan.To only for the outcome of prepared
	// transactions open there (Lookahead).
	Beyond []catalog.Segment
}

// Result reports a finished restore.
type Result struct {
	Prepared
	Load       load.Stats
	Replay     replay.Stats
	Namespaces []string // target namespaces written by the load or the replay
}

// Prepare plans the restore from what the store holds. It reads only the
// catalog and the snapshot manifests; a position outside every window is a
// *plan.WindowError listing the windows.
//
// To the latest position (opts.To oplog.Max), a snapshot that cannot be
// used (unreadable, refused or damaged) and whose segments reach further
// than the plan without it fails the restore with a *LatestError wrapping
// the snapshot's own error: "latest" would otherwise quietly mean an older
// position. An explicit position that is restorable without it is planned
// without it.
func Prepare(ctx context.Context, st store.Store, opts Options) (*Prepared, error) {
	s, err := pickStream(ctx, st, opts.Stream)
	if err != nil {
		return nil, err
	}
	l, err := snapshot.ListWith(ctx, st, s.Name, opts.snapshotOptions(s))
	if err != nil {
		return nil, fmt.Errorf("list snapshots of %s: %w", s.Name, err)
	}
	bases := Bases(l.Complete)
	p, err := plan.Restore(s, bases, opts.To)
	if err != nil {
		return nil, unreadableErr(err, s.Name, unusable(l))
	}
	if opts.To == oplog.Max {
		if err := checkLatest([]plan.Member{{Stream: s, Bases: bases}}, []snapshot.Listing{l}, p.To); err != nil {
			return nil, err
		}
	}
	return prepared(s, l, p, opts)
}

// unusable are the snapshots of l a plan cannot use: unreadable, refused
// or damaged.
func unusable(l snapshot.Listing) []snapshot.Unreadable {
	return append(slices.Clone(l.Unreadable), l.Damaged...)
}

// possibleBase is the most an unusable snapshot u could offer a plan: its
// manifest is unknown, so it is taken as consistent at its start (its ID
// carries it), the earliest it can be; with no start known, at the start
// of the stream's last chain.
func possibleBase(s *catalog.Stream, u snapshot.Unreadable) plan.Base {
	start := u.Start
	if start.IsZero() && len(s.Windows) > 0 {
		start = s.Windows[len(s.Windows)-1].From
	}
	return plan.Base{ID: u.ID, Start: start, End: start}
}

// LatestError fails a restore to the latest position that a snapshot the
// plan cannot use could have taken further. It wraps the snapshot's own
// error (a key error, a refused plaintext snapshot, damage), which decides
// the exit code.
type LatestError struct {
	Stream   string
	Snapshot string
	Without  oplog.Timestamp // the latest position restorable without it
	Reach    oplog.Timestamp // how far its segments could take a restore
	Err      error
}

func (e *LatestError) Error() string {
	return fmt.Sprintf("stream %s: the latest position needs snapshot %s (its segments reach %s; without it the latest restorable position is %s), which cannot be used: %v\n"+
		"Fix that (give its key, or replace the damaged or refused snapshot), or restore to an explicit position: %s is restorable without it",
		e.Stream, e.Snapshot, e.Reach, e.Without, e.Err, e.Without)
}

func (e *LatestError) Unwrap() error { return e.Err }

// unreadableErr adds to a planning failure the snapshots the plan could not
// use: without them the position may well be restorable. The result
// matches both the planning error and the snapshots' own errors (a missing
// key first).
func unreadableErr(err error, stream string, unreadable []snapshot.Unreadable) error {
	if len(unreadable) == 0 {
		return err
	}
	errs := make([]error, len(unreadable))
	for i, u := range unreadable {
		errs[i] = u.Err
	}
	return fmt.Errorf("%w\nstream %s has %d snapshots that could not be read, which the plan therefore left out: %w",
		err, stream, len(unreadable), errors.Join(errs...))
}

// PrepareCluster plans a restore of every named stream to one position, to
// (oplog.Max: the latest position restorable on all of them). A position
// not restorable on every stream is a *plan.ClusterError listing each
// stream's windows. The plans are those Prepare makes for each stream at
// the returned position, so a stream restored alone with --to at that
// position gets the same one.
func PrepareCluster(ctx context.Context, st store.Store, streams []string, to oplog.Timestamp, opts Options) (oplog.Timestamp, []*Prepared, error) {
	members := make([]plan.Member, len(streams))
	listings := make([]snapshot.Listing, len(streams))
	var unreadable []snapshot.Unreadable
	for i, name := range streams {
		s, err := catalog.LoadStream(ctx, st, name)
		if err != nil {
			return to, nil, fmt.Errorf("stream %s: %w", name, err)
		}
		l, err := snapshot.ListWith(ctx, st, name, opts.snapshotOptions(s))
		if err != nil {
			return to, nil, fmt.Errorf("list snapshots of %s: %w", name, err)
		}
		members[i], listings[i] = plan.Member{Stream: s, Bases: Bases(l.Complete)}, l
		unreadable = append(unreadable, unusable(l)...)
	}
	latest := to == oplog.Max
	to, plans, err := plan.Cluster(members, to)
	if err != nil {
		return to, nil, unreadableErr(err, strings.Join(streams, ", "), unreadable)
	}
	if latest {
		if err := checkLatest(members, listings, to); err != nil {
			return to, nil, err
		}
	}
	out := make([]*Prepared, len(streams))
	for i, m := range members {
		if out[i], err = prepared(m.Stream, listings[i], plans[i], opts); err != nil {
			return to, nil, err
		}
	}
	return to, out, nil
}

// checkLatest fails a restore to the latest position, to, when a member's
// unusable snapshot would move the latest position common to every member
// (of one stream, or of a cluster) past it: a *LatestError.
func checkLatest(members []plan.Member, listings []snapshot.Listing, to oplog.Timestamp) error {
	for i, m := range members {
		for _, u := range unusable(listings[i]) {
			with := slices.Clone(members)
			with[i].Bases = append(slices.Clone(m.Bases), possibleBase(m.Stream, u))
			if reach, _, err := plan.Cluster(with, oplog.Max); err == nil && reach.After(to) {
				return &LatestError{Stream: m.Stream.Name, Snapshot: u.ID, Without: to, Reach: reach, Err: u.Err}
			}
		}
	}
	return nil
}

// prepared completes a stream's plan with its snapshot's manifest and the
// segments its lookahead reads.
func prepared(s *catalog.Stream, l snapshot.Listing, p plan.Plan, opts Options) (*Prepared, error) {
	out := &Prepared{Stream: s.Name, Plan: p, Beyond: beyond(s, p), Unreadable: unusable(l), read: opts.segmentOptions()}
	if p.Base != nil {
		for _, m := range l.Complete {
			if m.ID == p.Base.ID {
				out.Snapshot = m
			}
		}
	}
	if out.Snapshot != nil && opts.Apply.IncludeUsers && !out.Snapshot.IncludeUsers {
		// The oplog holds only the changes since the snapshot's start: the
		// users and roles restored would be those changed since, not all.
		return nil, fmt.Errorf("stream %s: snapshot %s was taken without users and roles (tailerd's include_users was off), so --include-users would restore only those changed since %s: "+
			"restore without --include-users and create users apart, or turn include_users on and restore from a snapshot taken after that", s.Name, out.Snapshot.ID, out.Snapshot.Start)
	}
	return out, nil
}

// Bases turns complete snapshots into planning bases.
func Bases(ms []*snapshot.Manifest) []plan.Base {
	out := make([]plan.Base, len(ms))
	for i, m := range ms {
		out[i] = plan.Base{ID: m.ID, Start: m.Start, End: m.End}
	}
	return out
}

// Run restores. Before the first write it verifies the snapshot's files and
// every segment's checksums and links, finds every namespace the restore
// writes and checks the target for them; a damaged store or an occupied
// target fails with nothing written.
func Run(ctx context.Context, st store.Store, target *mongo.Client, opts Options, log zerolog.Logger) (Result, error) {
	prep, err := Prepare(ctx, st, opts)
	if err != nil {
		return Result{}, err
	}
	v, err := Verify(ctx, st, prep, opts, log)
	if err != nil {
		return Result{Prepared: *prep}, err
	}
	return Write(ctx, st, v, target, opts, log)
}

// Verified is a prepared restore whose snapshot files and segments were
// read and verified in full, with the target namespaces its replay writes.
// Nothing has been written yet: a cluster restore verifies every stream
// before any of them writes.
type Verified struct {
	*Prepared
	// Replayed are the target namespaces the replay writes (after renames).
	Replayed []string
	took     time.Duration
}

// Verify reads everything the restore will read — the snapshot's files and
// the plan's segments, with the lookahead — and checks every entry can be
// applied, without touching a target.
func Verify(ctx context.Context, st store.Store, prep *Prepared, opts Options, log zerolog.Logger) (*Verified, error) {
	p := prep.Plan
	log = log.With().Str("stream", prep.Stream).Stringer("to", p.To).Logger()
	started := time.Now()
	if prep.Snapshot != nil {
		log.Info().Str("snapshot", prep.Snapshot.ID).Int("files", prep.Snapshot.Files).Int64("bytes", prep.Snapshot.StoredBytes).
			Msg("verifying the snapshot before writing anything")
		if err := snapshot.Verify(ctx, st, prep.Snapshot); err != nil {
			return nil, err
		}
	}
	show := display(opts, log)
	log.Info().Int("segments", len(p.Segments)).Uint64("bytes", p.Bytes).Msg("verifying segments before writing anything")
	replayed, err := replay.Check(ctx, counted(prep.Source(ctx, st), show.Phase("verifying segments", int64(p.Entries), "entries")), prep.apply(ctx, st, opts), log)
	if err != nil {
		return nil, err
	}
	log.Info().Dur("took", time.Since(started)).Msg("verified")
	return &Verified{Prepared: prep, Replayed: replayed, took: time.Since(started)}, nil
}

// CheckTarget refuses, without writing, a target that holds a namespace the
// replay writes, or a non-empty collection the snapshot loads into: the
// checks the load and the replay make again before their first write. A
// cluster restore runs it on every target before any stream writes, so an
// occupied shard is found with every target untouched. Call it only
// without Drop.
func (v *Verified) CheckTarget(ctx context.Context, target *mongo.Client, opts Options) error {
	if err := replay.PrepareTarget(ctx, target, v.Replayed, false, zerolog.Nop()); err != nil {
		return err
	}
	if v.Snapshot == nil {
		return nil
	}
	reserved := map[string]bool{}
	for _, ns := range v.Replayed {
		reserved[ns] = true
	}
	var occupied []string
	for _, c := range v.Snapshot.Collections {
		db, coll := c.DB(), c.Name()
		if !wanted(db, coll, opts.Apply) {
			continue
		}
		tdb, tcoll := opts.Apply.Namespaces.Rename(db, coll)
		if reserved[tdb+"."+tcoll] {
			continue // checked above
		}
		err := target.Database(tdb).Collection(tcoll).FindOne(ctx, bson.D{}).Err()
		switch {
		case errors.Is(err, mongo.ErrNoDocuments):
		case err != nil:
			return fmt.Errorf("check %s.%s on the target: %w", tdb, tcoll, err)
		default:
			occupied = append(occupied, tdb+"."+tcoll)
		}
	}
	if len(occupied) > 0 {
		sort.Strings(occupied)
		return &replay.ConflictError{Namespaces: occupied}
	}
	return nil
}

// wanted tells the snapshot collections a load writes: selected user data,
// and users and roles only on request.
func wanted(db, coll string, o replay.Options) bool {
	switch replay.Classify("i", db, coll, false) {
	case replay.User:
	case replay.UsersAndRoles:
		if !o.IncludeUsers {
			return false
		}
	default:
		return false
	}
	return o.Namespaces.Selected(db, coll)
}

// Write loads the verified restore's snapshot and replays its segments onto
// target. The load (or, without a snapshot, the replay) checks the target
// again, or drops its namespaces with Drop, before its first write. With
// opts.Apply.After (resuming a restore that stopped with that resume
// point) the target holds what the stopped one wrote: nothing is loaded or
// checked, and the replay goes on from After.
func Write(ctx context.Context, st store.Store, v *Verified, target *mongo.Client, opts Options, log zerolog.Logger) (Result, error) {
	prep := v.Prepared
	res := Result{Prepared: *prep}
	p := prep.Plan
	log = log.With().Str("stream", prep.Stream).Stringer("to", p.To).Logger()
	started := time.Now().Add(-v.took)
	show := display(opts, log)
	apply := prep.apply(ctx, st, opts)
	replayed := v.Replayed
	resuming := !opts.Apply.After.IsZero()
	switch {
	case resuming && prep.Snapshot != nil:
		// The stopped restore loaded the base (a replay stops with a
		// resume point only once its load is done) and deferred its
		// indexes to the replay's end, which it did not reach: the
		// snapshot's index specs are needed, not its data.
		colls, err := Collections(ctx, st, prep.Snapshot)
		if err != nil {
			return res, err
		}
		apply.Indexes, res.Load.Namespaces, err = load.Deferred(ctx, colls, load.Options{
			Namespaces: opts.Apply.Namespaces, IncludeUsers: opts.Apply.IncludeUsers, SkipIndexes: true}, log)
		if err != nil {
			return res, err
		}
		log.Info().Stringer("after", opts.Apply.After).Str("snapshot", prep.Snapshot.ID).
			Msg("resuming: the base was loaded by the stopped restore; replaying the entries after --after")
	case resuming:
		// The target holds what the stopped restore wrote: it is not
		// checked for being empty.
	case prep.Snapshot == nil:
		if err := replay.PrepareTarget(ctx, target, replayed, opts.Drop, log); err != nil {
			return res, err
		}
	default:
		// The load checks (or drops) its own namespaces and those the replay
		// writes, in one pass, before its first write.
		loading := show.Phase("loading snapshot", prep.Snapshot.Docs, "docs")
		colls, err := Collections(ctx, st, prep.Snapshot)
		if err != nil {
			return res, err
		}
		res.Load, err = load.Load(ctx, target, colls, load.Options{
			Workers: opts.Workers, Drop: opts.Drop, Namespaces: opts.Apply.Namespaces,
			IncludeUsers: opts.Apply.IncludeUsers, Reserve: replayed, SkipIndexes: true,
			Progress: loading.Totals(),
		}, log)
		if err != nil {
			return res, err
		}
		loading.Finish()
		apply.Indexes = res.Load.Deferred
	}
	var err error
	res.Replay, err = replay.Write(ctx, counted(prep.Source(ctx, st), show.Phase("replaying", int64(p.Entries), "entries")), target, apply, log)
	res.Namespaces = union(replayed, res.Load.Namespaces)
	if err != nil {
		return res, err
	}
	log.Info().Uint64("entries", res.Replay.Entries).Stringer("applied", res.Replay.Applied).Dur("took", time.Since(started)).Msg("restore complete")
	return res, nil
}

// apply is opts.Apply with the plan's lookahead: entries after To are read
// only to decide prepared transactions open there, by their commitTimestamp,
// so every stream of a cluster restored to one To decides them alike.
func (p *Prepared) apply(ctx context.Context, st store.Store, opts Options) replay.Options {
	a := opts.Apply
	a.Lookahead = replay.Lookahead{To: p.Plan.To, Source: p.Lookahead(ctx, st)}
	return a
}

func display(opts Options, log zerolog.Logger) *progress.Display {
	if opts.Progress == nil {
		return progress.Logs(log)
	}
	return opts.Progress
}

// Source reads the plan's entries, From <= ts <= To, verifying every
// segment in full (also the parts outside the range) and its links.
func (p *Prepared) Source(ctx context.Context, st store.Store) replay.Source {
	from, to := p.Plan.From, p.Plan.To
	return func(fn func(bson.Raw) error) error {
		return catalog.ReadWith(ctx, st, p.Stream, p.Plan.Segments, p.read, func(entry bson.Raw) error {
			ts, err := oplog.EntryTS(entry)
			if err != nil {
				return err
			}
			if ts.Before(from) || ts.After(to) {
				return nil
			}
			return fn(entry)
		})
	}
}

// Lookahead reads the entries after the plan's To from Beyond, verifying
// each segment and its links like Source. A replay reads it only while
// prepared transactions open at To wait for their commit or abort, and
// stops once they are decided (see replay.Lookahead).
func (p *Prepared) Lookahead(ctx context.Context, st store.Store) replay.Source {
	to := p.Plan.To
	return func(fn func(bson.Raw) error) error {
		return catalog.ReadWith(ctx, st, p.Stream, p.Beyond, p.read, func(entry bson.Raw) error {
			ts, err := oplog.EntryTS(entry)
			if err != nil {
				return err
			}
			if !ts.After(to) {
				return nil
			}
			return fn(entry)
		})
	}
}

// beyond returns the plan's last segment and those after it in the same
// window of s: the unbroken history that follows the plan's To.
func beyond(s *catalog.Stream, p plan.Plan) []catalog.Segment {
	if len(p.Segments) == 0 {
		return nil
	}
	last := p.Segments[len(p.Segments)-1].Name
	for _, w := range s.Windows {
		for i := w.First; i <= w.Last; i++ {
			if s.Segments[i].Name == last {
				return s.Segments[i : w.Last+1]
			}
		}
	}
	return nil
}

// Collections presents a snapshot's collections to the loader, each
// reading its verified files in order.
// A spec that does not decode fails the restore: built without it, the
// target would silently lack an index (a unique rule) the source had.
func Collections(ctx context.Context, st store.Store, m *snapshot.Manifest) ([]load.Collection, error) {
	out := make([]load.Collection, 0, len(m.Collections))
	for _, c := range m.Collections {
		lc := load.Collection{DB: c.DB(), Name: c.Name(), Type: c.Type, Options: c.Options}
		for i, ix := range c.Indexes {
			var spec bson.D
			if err := bson.Unmarshal(ix, &spec); err != nil {
				return nil, fmt.Errorf("snapshot %s/%s: %s: index spec %d does not decode: %w", m.Stream, m.ID, c.NS, i, err)
			}
			lc.Indexes = append(lc.Indexes, spec)
		}
		if len(c.Files) > 0 {
			lc.Docs = func(ctx context.Context, fn func(bson.Raw) error) error {
				return snapshot.Docs(ctx, st, m, c, fn)
			}
		}
		out = append(out, lc)
	}
	return out, nil
}

// counted reports every entry src yields to m, and finishes m when src
// has yielded them all. Reading runs at most one batch ahead of writing,
// so for a replay this is the apply's pace too.
func counted(src replay.Source, m *progress.Meter) replay.Source {
	return func(fn func(bson.Raw) error) error {
		err := src(func(entry bson.Raw) error {
			m.Add(1)
			return fn(entry)
		})
		if err == nil {
			m.Finish()
		}
		return err
	}
}

func union(a, b []string) []string {
	set := map[string]bool{}
	for _, s := range append(append([]string(nil), a...), b...) {
		set[s] = true
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

func pickStream(ctx context.Context, st store.Store, name string) (*catalog.Stream, error) {
	if name != "" {
		return catalog.LoadStream(ctx, st, name)
	}
	names, err := st.Streams(ctx)
	if err != nil {
		return nil, fmt.Errorf("list streams in %s: %w", st, err)
	}
	switch len(names) {
	case 0:
		return nil, fmt.Errorf("store %s holds no streams yet: has tailerd cut a segment?", st)
	case 1:
		return catalog.LoadStream(ctx, st, names[0])
	}
	return nil, fmt.Errorf("store %s holds streams %s: choose one with --stream", st, strings.Join(names, ", "))
}
