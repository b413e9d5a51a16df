package replay

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/tidelog/tidelog/oplog"
)

// Existing says what a replay does with namespaces the target already holds.
type Existing int

const (
	// Refuse: stop before the first write (a restore from the start of capture).
	Refuse Existing = iota
	// Drop them first (--drop).
	Drop
	// Keep them and apply on top: the target holds a base copy the entries
	// continue (replayer apply over a mongodump, say).
	Keep
)

// Source streams oplog entries, in order, to fn; it stops at fn's first error.
// Replay calls it twice, so it must be repeatable.
type Source func(fn func(entry bson.Raw) error) error

// Replay applies every entry of src to target in two passes. The first pass
// writes nothing: it reads everything (a segment source verifies checksums on
// the way), finds the namespaces the replay will write and the entries it
// cannot apply. Only when that pass is clean, and the target holds none of
// those namespaces (or drop replaces them), does the second pass write.
// It returns the stats and the namespaces written.
//
// A resumed replay (opts.After set) writes on top of what the stopped one
// wrote, so existing is taken as Keep.
func Replay(ctx context.Context, src Source, target *mongo.Client, opts Options, existing Existing, log zerolog.Logger) (Stats, []string, error) {
	if !opts.After.IsZero() {
		existing = Keep
	}
	nss, err := Check(ctx, src, opts, log)
	if err != nil {
		return Stats{}, nil, err
	}
	if existing != Keep {
		if err := PrepareTarget(ctx, target, nss, existing == Drop, log); err != nil {
			return Stats{}, nss, err
		}
	}
	stats, err := Write(ctx, src, target, opts, log)
	return stats, nss, err
}

// Write is a replay's second pass alone: it applies every entry of src to
// target. Callers that ran Check themselves (to check the target for a base
// they load first) use it instead of Replay, which would read src once more.
// An error after writing began is a *StoppedError with the resume point;
// a *JournalAheadError (a resume past what a cut replay left) is not: it
// writes nothing and names the resume point to use.
func Write(ctx context.Context, src Source, target *mongo.Client, opts Options, log zerolog.Logger) (Stats, error) {
	a := NewApplier(target, opts, log)
	defer a.txns.Close() // Finish closes it too; a stopped replay must not leave spill files
	err := src(func(entry bson.Raw) error { return a.Apply(ctx, entry) })
	if err == nil {
		err = a.Finish(ctx)
	}
	stats := a.Stats()
	var ahead *JournalAheadError
	if errors.As(err, &ahead) {
		return stats, err // nothing written: its own advice, not a resume point
	}
	if err != nil {
		return stats, &StoppedError{Err: err, Applied: stats.Applied, Written: stats.Written}
	}
	return stats, nil
}

// Check is a replay's first pass alone: it reads every entry of src (a
// segment source verifies checksums on the way) and writes nothing. It
// returns the target namespaces the replay would write, sorted, or the
// first entry the replay cannot apply (unless opts.OnUnsupported lets the
// replay skip such entries). A restore that loads a base first uses it to
// check the target for every namespace before its first write.
func Check(ctx context.Context, src Source, opts Options, log zerolog.Logger) ([]string, error) {
	nsSet := map[string]bool{}
	checkOpts := opts
	checkOpts.OnUnsupported = nil
	checker := NewApplier(nil, checkOpts, log)
	defer checker.txns.Close()
	writes := func(ns string) { nsSet[ns] = true }
	tolerate := func(err error) error {
		var ue *UnsupportedError
		if errors.As(err, &ue) && opts.OnUnsupported != nil {
			return nil // the apply pass reports it and goes on
		}
		return err
	}
	err := src(func(entry bson.Raw) error {
		return tolerate(checker.Check(ctx, entry, writes))
	})
	if err == nil {
		// Prepared transactions open at the cut that committed at or before
		// it are applied too (Lookahead): check their operations as well.
		err = checker.resolve(ctx, func(ctx context.Context, entry bson.Raw) error {
			return tolerate(checker.checkDecided(ctx, entry, writes))
		})
	}
	if err != nil {
		return nil, err
	}
	nss := make([]string, 0, len(nsSet))
	for ns := range nsSet {
		nss = append(nss, ns)
	}
	sort.Strings(nss)
	return nss, nil
}

// StoppedError is a replay that failed after it began writing: the target
// holds entries through Applied (its resume point) and, but for the
// transactions open there, through Written; possibly some after it.
// Running the same replay again with Options.After = Applied and
// Options.Written = Written, once the cause is fixed, completes it exactly:
// it writes nothing through Written again and is idempotent after it. With
// After alone it writes the entries between again, which a namespace
// command does not always survive (see Stats.Written).
type StoppedError struct {
	Err     error
	Applied oplog.Timestamp
	Written oplog.Timestamp
}

func (e *StoppedError) Error() string {
	if e.Written.After(e.Applied) {
		return fmt.Sprintf("%v (resume point %s: every entry through it is applied; written through %s but for open transactions)", e.Err, e.Applied, e.Written)
	}
	return fmt.Sprintf("%v (resume point %s: every entry through it is applied)", e.Err, e.Applied)
}

func (e *StoppedError) Unwrap() error { return e.Err }

// PrepareTarget refuses a target that already holds any of nss (a
// *ConflictError), unless drop is set, in which case it drops them.
func PrepareTarget(ctx context.Context, target *mongo.Client, nss []string, drop bool, log zerolog.Logger) error {
	byDB := map[string][]string{}
	for _, ns := range nss {
		db, coll, _ := strings.Cut(ns, ".")
		byDB[db] = append(byDB[db], coll)
	}
	var existing []string
	for db, colls := range byDB {
		have, err := target.Database(db).ListCollectionNames(ctx, bson.D{})
		if err != nil {
			return fmt.Errorf("list collections of %s on the target: %w", db, err)
		}
		haveSet := map[string]bool{}
		for _, c := range have {
			haveSet[c] = true
		}
		for _, c := range colls {
			if haveSet[c] {
				existing = append(existing, db+"."+c)
			}
		}
	}
	sort.Strings(existing)
	if len(existing) == 0 {
		return nil
	}
	if !drop {
		return &ConflictError{Namespaces: existing}
	}
	for _, ns := range existing {
		db, coll, _ := strings.Cut(ns, ".")
		if err := target.Database(db).Collection(coll).Drop(ctx); err != nil {
			return fmt.Errorf("--drop: drop %s on the target: %w", ns, err)
		}
		log.Warn().Str("ns", ns).Msg("--drop: dropped the target's collection before restoring it")
	}
	return nil
}
