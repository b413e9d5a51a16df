package load

import (
	"context"
	"fmt"
	"sync"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// IsIDIndex tells the _id index, which create builds: the one named _id_
// or keyed {_id: 1} (a hashed _id index is a separate index).
func IsIDIndex(spec bson.D) bool {
	for _, e := range spec {
		switch e.Key {
		case "name":
			if e.Value == "_id_" {
				return true
			}
		case "key":
			key, ok := e.Value.(bson.D)
			if ok && len(key) == 1 && key[0].Key == "_id" {
				if n, ok := number(key[0].Value); ok && n == 1 {
					return true
				}
			}
		}
	}
	return false
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

// cleanIndexSpec drops what createIndexes need not carry: ns (specs dumped
// from servers up to 4.2; newer servers reject it) and the index version v,
// so that the target builds its own current version, as mongorestore does
// unless told to keep it (FerretDB rejects v altogether).
func cleanIndexSpec(spec bson.D) bson.D {
	out := make(bson.D, 0, len(spec))
	for _, e := range spec {
		if e.Key != "ns" && e.Key != "v" {
			out = append(out, e)
		}
	}
	return out
}

func indexName(spec bson.D) string {
	for _, e := range spec {
		if e.Key == "name" {
			if s, ok := e.Value.(string); ok {
				return s
			}
		}
	}
	return ""
}

// buildIndexes builds every job's indexes, after the data, Workers
// collections at a time, and checks that the target holds each one.
func buildIndexes(ctx context.Context, client *mongo.Client, p *plan, workers int, log zerolog.Logger) (int, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan *job)
	var built int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if err := buildOne(ctx, client, j, log); err != nil {
					cancel(err)
					continue
				}
				mu.Lock()
				built += len(j.indexes)
				mu.Unlock()
			}
		}()
	}
feed:
	for _, j := range p.jobs {
		if len(j.indexes) == 0 {
			continue
		}
		select {
		case jobs <- j:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if ctx.Err() != nil {
		return built, context.Cause(ctx)
	}
	return built, nil
}

// buildOne builds one collection's indexes in one createIndexes command.
func buildOne(ctx context.Context, client *mongo.Client, j *job, log zerolog.Logger) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	specs := make(bson.A, 0, len(j.indexes))
	for _, s := range j.indexes {
		specs = append(specs, s)
	}
	db := client.Database(j.db)
	if err := db.RunCommand(ctx, bson.D{{Key: "createIndexes", Value: j.name}, {Key: "indexes", Value: specs}}).Err(); err != nil {
		return nsError(j.ns(), fmt.Sprintf("build %d indexes after the data", len(specs)), err)
	}
	if err := checkIndexes(ctx, db.Collection(j.name), j, log); err != nil {
		return err
	}
	log.Info().Str("ns", j.ns()).Int("indexes", len(specs)).Msg("built indexes after the data")
	return nil
}

// checkIndexes reads the indexes back. A missing index, or a unique one
// that is not unique, is an error (the data would not be held to the
// source's rules); another option the target dropped (FerretDB drops
// sparse) is a warning.
func checkIndexes(ctx context.Context, coll *mongo.Collection, j *job, log zerolog.Logger) error {
	cur, err := coll.Indexes().List(ctx)
	if err != nil {
		return nsError(j.ns(), "list indexes after building them", err)
	}
	defer cur.Close(ctx)
	have := map[string]bson.Raw{}
	for cur.Next(ctx) {
		name, _ := cur.Current.Lookup("name").StringValueOK()
		have[name] = append(bson.Raw(nil), cur.Current...)
	}
	if err := cur.Err(); err != nil {
		return nsError(j.ns(), "list indexes after building them", err)
	}
	for _, spec := range j.indexes {
		name := indexName(spec)
		got, ok := have[name]
		if !ok {
			return nsError(j.ns(), "after building indexes", fmt.Errorf("the target accepted index %s but does not list it", name))
		}
		var dropped []string
		for _, e := range spec {
			v, err := got.LookupErr(e.Key)
			switch {
			case e.Key == "unique" && e.Value == true && !(err == nil && v.Type == bson.TypeBoolean && v.Boolean()):
				return nsError(j.ns(), "after building indexes", fmt.Errorf("the target built index %s, but not unique", name))
			case err != nil && e.Key != "background":
				dropped = append(dropped, e.Key)
			}
		}
		if len(dropped) > 0 {
			log.Warn().Str("ns", j.ns()).Str("index", name).Strs("options", dropped).Msg("the target built the index without these options")
		}
	}
	return nil
}
