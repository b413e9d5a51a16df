package load

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tidelog/tidelog/replay"
)

// ConflictError lists the namespaces the target already holds. It is
// replay's type, so that a caller answers a load and a replay refusing an
// occupied target the same way (replayer exits 6).
type ConflictError = replay.ConflictError

const codeNamespaceNotFound = 26

// checkTarget compares the plan and opts.Reserve with what the target holds.
// An existing namespace is a conflict when it holds documents, when it or
// the load's namespace is not a plain collection, or when it is reserved for
// the caller; an empty plain collection is reused as it is. With Drop every
// existing one is dropped instead — after the whole check, so that a failed
// check writes nothing.
func checkTarget(ctx context.Context, client *mongo.Client, p *plan, opts Options, log zerolog.Logger) error {
	own := map[string]*job{}
	for _, j := range p.jobs {
		own[j.ns()], own[j.dataNS()] = j, j
	}
	byDB := map[string][]string{}
	add := func(ns string) {
		db, coll := replay.SplitNS(ns)
		for _, c := range byDB[db] {
			if c == coll {
				return
			}
		}
		byDB[db] = append(byDB[db], coll)
	}
	for ns := range own {
		add(ns)
	}
	for _, ns := range opts.Reserve {
		add(ns)
	}
	var conflicts, drops []string
	for db, colls := range byDB {
		have, err := collectionTypes(ctx, client, db)
		if err != nil {
			return err
		}
		for _, coll := range colls {
			typ, exists := have[coll]
			if !exists {
				continue
			}
			ns := db + "." + coll
			if opts.Drop {
				drops = append(drops, ns)
				continue
			}
			j := own[ns]
			if j == nil || typ != TypeCollection || j.kind != TypeCollection {
				conflicts = append(conflicts, ns)
				continue
			}
			empty, err := isEmpty(ctx, client.Database(db).Collection(coll))
			if err != nil {
				return fmt.Errorf("load: check %s on the target: %w", ns, err)
			}
			if !empty {
				conflicts = append(conflicts, ns)
				continue
			}
			j.reuse = true
			if len(j.options) > 0 {
				log.Warn().Str("ns", ns).Msg("the target holds this collection, empty: loading into it as it is, with its own options rather than the source's")
			}
		}
	}
	if len(conflicts) > 0 {
		sort.Strings(conflicts)
		return &ConflictError{Namespaces: conflicts}
	}
	return dropAll(ctx, client, drops, log)
}

// collectionTypes maps the collections of db on the target to their type.
func collectionTypes(ctx context.Context, client *mongo.Client, db string) (map[string]string, error) {
	cur, err := client.Database(db).ListCollections(ctx, bson.D{}, options.ListCollections().SetNameOnly(true))
	if err != nil {
		return nil, fmt.Errorf("load: list collections of %s on the target: %w", db, err)
	}
	defer cur.Close(ctx)
	out := map[string]string{}
	for cur.Next(ctx) {
		name, _ := cur.Current.Lookup("name").StringValueOK()
		typ, _ := cur.Current.Lookup("type").StringValueOK()
		if typ == "" {
			typ = TypeCollection
		}
		out[name] = typ
	}
	if err := cur.Err(); err != nil {
		return nil, fmt.Errorf("load: list collections of %s on the target: %w", db, err)
	}
	return out, nil
}

func isEmpty(ctx context.Context, coll *mongo.Collection) (bool, error) {
	err := coll.FindOne(ctx, bson.D{}, options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return true, nil
	}
	return false, err
}

// dropAll drops nss (for Drop), timeseries buckets last: dropping a
// timeseries collection drops its buckets with it.
func dropAll(ctx context.Context, client *mongo.Client, nss []string, log zerolog.Logger) error {
	sort.Slice(nss, func(a, b int) bool {
		_, ca := replay.SplitNS(nss[a])
		_, cb := replay.SplitNS(nss[b])
		if ba, bb := strings.HasPrefix(ca, bucketsPrefix), strings.HasPrefix(cb, bucketsPrefix); ba != bb {
			return bb
		}
		return nss[a] < nss[b]
	})
	for _, ns := range nss {
		db, coll := replay.SplitNS(ns)
		err := client.Database(db).RunCommand(ctx, bson.D{{Key: "drop", Value: coll}}).Err()
		var se mongo.ServerError
		if err != nil && !(errors.As(err, &se) && se.HasErrorCode(codeNamespaceNotFound)) {
			return fmt.Errorf("load: --drop: drop %s on the target: %w", ns, err)
		}
		log.Warn().Str("ns", ns).Msg("dropped the target's collection before loading it")
	}
	return nil
}
