package snapshot

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tidelog/tidelog/oplog"
)

// newest returns the ts of the newest oplog entry.
func (s *source) newest(ctx context.Context) (oplog.Timestamp, error) {
	return s.edge(ctx, -1)
}

// oldest returns the ts of the oldest oplog entry the server still keeps.
func (s *source) oldest(ctx context.Context) (oplog.Timestamp, error) {
	return s.edge(ctx, 1)
}

// edge reads the ts at one end of the oplog: dir 1 the oldest, -1 the newest.
func (s *source) edge(ctx context.Context, dir int) (oplog.Timestamp, error) {
	sortKey := "$natural" // MongoDB serves the oplog's ends from natural order without a sort
	if s.ferret {
		sortKey = "ts"
	}
	var doc bson.Raw
	err := s.coll("local", "oplog.rs").FindOne(ctx, bson.D{}, options.FindOne().
		SetSort(bson.D{{Key: sortKey, Value: dir}}).
		SetProjection(bson.D{{Key: "ts", Value: 1}})).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		// A snapshot needs a position to be replayed from; an empty oplog
		// (FerretDB before its first write) has none.
		return oplog.Timestamp{}, errors.New("the source's oplog (local.oplog.rs) is empty: no position to start replay from")
	}
	if err != nil {
		return oplog.Timestamp{}, fmt.Errorf("read the oplog's end: %w", err)
	}
	return oplog.EntryTS(doc)
}

// oldestOpenTransaction returns the startOpTime.ts of the oldest transaction
// that is in progress or prepared, if any. Such a transaction has oplog
// entries before the newest one (the parts of a large transaction, or its
// prepare) that its commit, which comes later, needs; replay must start at
// its first entry to be able to apply the commit. mongodump --oplog does the
// same. A server without config.transactions (FerretDB) has none.
func (s *source) oldestOpenTransaction(ctx context.Context) (oplog.Timestamp, bool, error) {
	filter := bson.D{{Key: "state", Value: bson.D{{Key: "$in", Value: bson.A{"inProgress", "prepared"}}}}}
	cur, err := s.coll("config", "transactions").Find(ctx, filter,
		options.Find().SetProjection(bson.D{{Key: "startOpTime", Value: 1}}))
	if isNamespaceNotFound(err) {
		return oplog.Timestamp{}, false, nil
	}
	if err != nil {
		return oplog.Timestamp{}, false, fmt.Errorf("read open transactions from config.transactions: %w", err)
	}
	defer cur.Close(ctx)
	var oldest oplog.Timestamp
	found := false
	for cur.Next(ctx) {
		t, i, ok := cur.Current.Lookup("startOpTime", "ts").TimestampOK()
		if !ok {
			continue // an in-progress transaction that has written nothing yet
		}
		if ts := (oplog.Timestamp{T: t, I: i}); !found || ts.Before(oldest) {
			oldest, found = ts, true
		}
	}
	if err := cur.Err(); err != nil {
		return oplog.Timestamp{}, false, fmt.Errorf("read open transactions from config.transactions: %w", err)
	}
	return oldest, found, nil
}

// startPosition is where replay over the snapshot must begin: the newest
// oplog entry, or the first entry of the oldest transaction then open if that
// is earlier. The newest entry is read first, as mongodump does: a
// transaction that commits between the two reads is then already in the
// data the copy reads afterwards.
func (s *source) startPosition(ctx context.Context) (oplog.Timestamp, error) {
	start, err := s.newest(ctx)
	if err != nil {
		return oplog.Timestamp{}, err
	}
	txn, ok, err := s.oldestOpenTransaction(ctx)
	if err != nil {
		return oplog.Timestamp{}, err
	}
	if ok && txn.Before(start) {
		start = txn
	}
	return start, nil
}

// isNamespaceNotFound reports the server's NamespaceNotFound (code 26).
func isNamespaceNotFound(err error) bool {
	var se mongo.ServerError
	return err != nil && errors.As(err, &se) && se.HasErrorCode(26)
}
