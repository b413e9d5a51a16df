package snapshot

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// estimatedCount is the collection's document count from metadata: only a
// split decision rests on it, so it need not be exact. MongoDB answers
// estimatedDocumentCount from metadata; FerretDB counts by reading every
// document for it (seconds for a large collection) but answers
// $collStats's count at once.
func (s *source) estimatedCount(ctx context.Context, db, coll string) (int64, error) {
	if !s.ferret {
		n, err := s.coll(db, coll).EstimatedDocumentCount(ctx)
		if err != nil {
			return 0, fmt.Errorf("count %s.%s: %w", db, coll, err)
		}
		return n, nil
	}
	cur, err := s.coll(db, coll).Aggregate(ctx, bson.A{bson.D{{Key: "$collStats", Value: bson.D{{Key: "count", Value: bson.D{}}}}}})
	if isNamespaceNotFound(err) {
		return 0, nil // dropped since it was listed
	}
	if err != nil {
		return 0, fmt.Errorf("count %s.%s: %w", db, coll, err)
	}
	defer cur.Close(ctx)
	var n int64
	for cur.Next(ctx) {
		if c, ok := cur.Current.Lookup("count").AsInt64OK(); ok {
			n += c
		}
	}
	if err := cur.Err(); err != nil {
		return 0, fmt.Errorf("count %s.%s: %w", db, coll, err)
	}
	return n, nil
}
