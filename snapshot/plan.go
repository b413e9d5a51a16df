package snapshot

import (
	"context"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// planCollection decides how collection index i of cs is copied: as one
// file, or as one file per _id range when it holds more than splitDocs
// documents and its _ids allow it (see splitPoints).
func planCollection(ctx context.Context, src *source, cs []Collection, i, splitDocs int, log zerolog.Logger) ([]copyTask, error) {
	c := cs[i]
	whole := copyTask{coll: i, ns: c.NS, db: c.DB(), name: c.Name(), file: fileName(i, 0, c.NS), filter: bson.D{}}
	est, err := src.estimatedCount(ctx, whole.db, whole.name)
	if err != nil {
		return nil, err
	}
	whole.weight = est
	if est <= int64(splitDocs) {
		return []copyTask{whole}, nil
	}
	if capped, _ := c.Options.Lookup("capped").BooleanOK(); capped {
		// Copied in natural (insertion) order, one file: loaded in _id
		// ranges, later inserts would evict other documents than the
		// source's did.
		log.Info().Str("ns", c.NS).Int64("estimated_docs", est).Msg("copying a capped collection whole, in insertion order")
		return []copyTask{whole}, nil
	}
	points, why, err := src.splitPoints(ctx, whole.db, whole.name, splitDocs)
	if err != nil {
		return nil, err
	}
	if len(points) == 0 {
		log.Info().Str("ns", c.NS).Int64("estimated_docs", est).Str("reason", why).
			Msg("copying the collection whole, with one worker")
		return []copyTask{whole}, nil
	}
	tasks := make([]copyTask, len(points)+1)
	for part := range tasks {
		t := whole
		t.part, t.file, t.filter, t.weight = part, fileName(i, part, c.NS), rangeFilter(points, part), int64(splitDocs)
		tasks[part] = t
	}
	log.Debug().Str("ns", c.NS).Int64("estimated_docs", est).Int("ranges", len(tasks)).Msg("split by _id range")
	return tasks, nil
}
