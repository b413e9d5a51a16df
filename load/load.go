package load

import (
	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/tidelog/tidelog/replay"
)

// Collection types, as mongodump's metadata names them.
const (
	TypeCollection = "collection"
	TypeView       = "view"
	TypeTimeseries = "timeseries"
)

// Collection is one namespace of a base copy.
type Collection struct {
	DB, Name string
	// Type is TypeCollection (also when empty), TypeView or TypeTimeseries.
	// Options holding viewOn or timeseries make it a view or a timeseries
	// collection too, as they do for mongorestore.
	Type string
	// Options are the create options (capped, size, collation, validator,
	// viewOn/pipeline, timeseries, ...); nil when none.
	Options bson.Raw
	// Indexes are the index specs (key, name, unique, ...); the _id index
	// is skipped, since create builds it.
	Indexes []bson.D
	// Docs streams the documents to fn, in order, stopping at fn's first
	// error; a document is valid only during the call. nil: no documents (a
	// view, an empty collection). For a timeseries collection these are
	// its buckets, as the source's system.buckets.<name> held them.
	Docs func(ctx context.Context, fn func(doc bson.Raw) error) error
}

// Options shape a load.
type Options struct {
	// Workers is how many insert (and index build) commands run at once; 0: 4.
	Workers int
	// Drop drops the namespaces the load writes, and those in Reserve, when
	// the target holds them. Without it a namespace that holds documents is
	// refused with a *ConflictError before any write.
	Drop bool
	// Namespaces selects and renames, as for a replay.
	Namespaces replay.Namespaces
	// IncludeUsers also loads admin.system.users and admin.system.roles.
	IncludeUsers bool
	// Reserve lists further target namespaces ("db.coll", after renames)
	// that the caller writes after the load, such as the namespaces the
	// oplog replayed over the base creates: the target must not hold them
	// either (or Drop drops them), checked with the load's own, before its
	// first write.
	Reserve []string
	// SkipIndexes leaves index builds to the caller, who gets the specs in
	// Stats.Deferred: a restore that replays an oplog over a copy taken
	// during writes (a snapshot, a mongodump --oplog) builds them after the
	// replay, since such a copy can break a unique rule until then.
	SkipIndexes bool
	// Progress, if set, is told after each batch how many documents of a
	// target namespace are in. Calls never overlap.
	Progress func(ns string, docs int64)
}

// Stats count what a load wrote.
type Stats struct {
	Collections  int // collections and timeseries collections created (or reused empty)
	Views        int
	Docs, Bytes  int64
	IndexesBuilt int
	// Namespaces are the target namespaces written, sorted.
	Namespaces []string
	// Deferred are the index specs not built because of SkipIndexes, by
	// target namespace, cleaned, without the _id index.
	Deferred []replay.Index
	// LeftOut counts source namespaces not loaded: server-internal ones,
	// users and roles without IncludeUsers, and those the selection leaves out.
	LeftOut int
}

const defaultWorkers = 4

// Load writes colls into client's target (see the package comment for the
// phases). A failure before the first write leaves the target as it was;
// a later one leaves a partial load, to be replaced with Drop.
func Load(ctx context.Context, client *mongo.Client, colls []Collection, opts Options, log zerolog.Logger) (Stats, error) {
	if opts.Workers <= 0 {
		opts.Workers = defaultWorkers
	}
	p, err := newPlan(ctx, colls, opts, log)
	if err != nil {
		return Stats{}, err
	}
	stats := Stats{Namespaces: p.namespaces(), LeftOut: len(p.leftOut)}
	if err := checkTarget(ctx, client, p, opts, log); err != nil {
		return stats, err
	}
	started := time.Now()
	if err := createAll(ctx, client, p, log); err != nil {
		return stats, err
	}
	for _, j := range p.jobs {
		if j.kind == TypeView {
			stats.Views++
		} else {
			stats.Collections++
		}
	}
	ins, err := insertAll(ctx, client, p, opts, log)
	stats.Docs, stats.Bytes = ins.docs, ins.bytes
	if err != nil {
		return stats, err
	}
	if opts.SkipIndexes {
		stats.Deferred = p.deferred()
	} else {
		stats.IndexesBuilt, err = buildIndexes(ctx, client, p, opts.Workers, log)
		if err != nil {
			return stats, err
		}
	}
	log.Info().Int("collections", stats.Collections).Int("views", stats.Views).Int64("docs", stats.Docs).
		Int64("bytes", stats.Bytes).Int("indexes", stats.IndexesBuilt).Dur("took", time.Since(started)).Msg("base loaded")
	return stats, nil
}

// nsError names the target namespace in an error.
func nsError(ns, what string, err error) error {
	return fmt.Errorf("load %s: %s: %w", ns, what, err)
}
