package snapshot

import (
	"bytes"
	"context"
	"fmt"
	"math"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// splitPoints scans the _ids of db.coll in order and returns every
// every-th one: the lower bounds of the second and later _id ranges. It
// returns no points, and why, when the collection must be copied whole.
//
// MongoDB's range queries are type-bracketed: {$gte: 5} matches numbers
// only, never a string or an ObjectId. Ranges bounded by values of one type
// therefore cover exactly the documents whose _id has that type (or its
// bracket), so the split is safe only when every _id seen is of one type;
// with mixed types some documents would fall between the ranges and be
// silently left out. The scan stops at the first _id of another type.
//
// The scan runs after Start was read, so every document that exists from
// Start to the end of the copy is seen by it. A document inserted later
// with an _id of another type may fall outside every range, but it was
// written after Start and replay inserts it.
func (s *source) splitPoints(ctx context.Context, db, coll string, every int) ([]bson.RawValue, string, error) {
	cur, err := s.coll(db, coll).Find(ctx, bson.D{}, options.Find().
		SetProjection(bson.D{{Key: "_id", Value: 1}}).
		SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, "", fmt.Errorf("scan the _ids of %s.%s: %w", db, coll, err)
	}
	defer cur.Close(ctx)
	var (
		points []bson.RawValue
		first  bson.Type
		n      int
	)
	for cur.Next(ctx) {
		id, err := cur.Current.LookupErr("_id")
		if err != nil {
			return nil, "", fmt.Errorf("scan the _ids of %s.%s: document %d has no _id", db, coll, n+1)
		}
		if n == 0 {
			first = id.Type
		}
		if id.Type != first {
			return nil, fmt.Sprintf("_ids of more than one BSON type (%s and %s)", first, id.Type), nil
		}
		if !rangeable(id) {
			return nil, fmt.Sprintf("_ids of BSON type %s (or NaN)", id.Type), nil
		}
		if n > 0 && n%every == 0 {
			points = append(points, bson.RawValue{Type: id.Type, Value: bytes.Clone(id.Value)})
		}
		n++
	}
	if err := cur.Err(); err != nil {
		return nil, "", fmt.Errorf("scan the _ids of %s.%s: %w", db, coll, err)
	}
	if len(points) == 0 {
		return nil, fmt.Sprintf("only %d documents", n), nil
	}
	return points, "", nil
}

// rangeable reports whether range queries on _id values like v are served
// in the same order as the sort that chose the bounds, on MongoDB and on
// FerretDB alike: scalar types with a total order. Documents, arrays
// (never an _id), binary data, regular expressions and the like are left
// whole, and so is NaN, which no $lt or $gte matches.
func rangeable(v bson.RawValue) bool {
	switch v.Type {
	case bson.TypeObjectID, bson.TypeString, bson.TypeInt32, bson.TypeInt64, bson.TypeDateTime, bson.TypeTimestamp:
		return true
	case bson.TypeDouble:
		f, ok := v.DoubleOK()
		return ok && !math.IsNaN(f)
	}
	return false
}

// rangeFilter is the query of range part (0-based) of len(points)+1 ranges:
// the first has only an upper bound, the last only a lower one.
func rangeFilter(points []bson.RawValue, part int) bson.D {
	var cond bson.D
	if part > 0 {
		cond = append(cond, bson.E{Key: "$gte", Value: points[part-1]})
	}
	if part < len(points) {
		cond = append(cond, bson.E{Key: "$lt", Value: points[part]})
	}
	return bson.D{{Key: "_id", Value: cond}}
}
