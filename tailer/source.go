package tailer

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readconcern"

	"github.com/tidelog/tidelog/oplog"
)

// CursorMode says how the oplog is read.
type CursorMode string

const (
	// CursorAuto picks CursorPoll for FerretDB and CursorTailable otherwise.
	CursorAuto CursorMode = "auto"
	// CursorTailable is a tailable, awaitData cursor on {ts: {$gte: last}} in
	// natural order: what MongoDB serves efficiently from the oplog.
	CursorTailable CursorMode = "tailable"
	// CursorPoll repeats a finite find on {ts: {$gte: last}} sorted by ts. It is
	// for servers whose tailable cursors are unreliable: FerretDB's return
	// entries again and out of order on getMore (seen with v1.24), which a
	// tailer must never pass on.
	CursorPoll CursorMode = "poll"
)

// source is one replica set's oplog as the tailer sees it.
type source struct {
	client  *mongo.Client
	oplog   *mongo.Collection
	mode    CursorMode
	batch   int32
	setName string
}

// openSource checks that uri's server is a replica set member with an oplog
// and resolves CursorAuto.
func openSource(ctx context.Context, client *mongo.Client, mode CursorMode, batch int32) (*source, error) {
	var hello struct {
		SetName string `bson:"setName"`
	}
	if err := client.Database("admin").RunCommand(ctx, bson.D{{Key: "hello", Value: 1}}).Decode(&hello); err != nil {
		return nil, fmt.Errorf("source unreachable or not MongoDB (hello failed): %w", err)
	}
	if hello.SetName == "" {
		return nil, errors.New("source is not a replica set member, so it keeps no oplog: point --source at a replica set (a single-node replica set works)")
	}
	if mode == "" || mode == CursorAuto {
		mode = CursorTailable
		var info bson.Raw
		if err := client.Database("admin").RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err == nil {
			if _, err := info.LookupErr("ferretdbVersion"); err == nil {
				mode = CursorPoll
			}
		}
	}
	if mode != CursorTailable && mode != CursorPoll {
		return nil, fmt.Errorf("cursor mode %q: want auto, tailable or poll", mode)
	}
	// Majority read concern: on a real replica set the cursor returns only
	// entries a majority has written, so nothing tidelog ships can be rolled back.
	coll := client.Database("local").Collection("oplog.rs",
		options.Collection().SetReadConcern(readconcern.Majority()))
	names, err := client.Database("local").ListCollectionNames(ctx, bson.D{{Key: "name", Value: "oplog.rs"}})
	if err != nil {
		return nil, fmt.Errorf("list local collections: %w", err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("replica set %s has no local.oplog.rs", hello.SetName)
	}
	return &source{client: client, oplog: coll, mode: mode, batch: batch, setName: hello.SetName}, nil
}

// oldest returns the ts of the oldest entry the oplog still holds.
func (s *source) oldest(ctx context.Context) (oplog.Timestamp, bool, error) {
	return s.edge(ctx, 1)
}

// newest returns the ts of the newest entry.
func (s *source) newest(ctx context.Context) (oplog.Timestamp, bool, error) {
	return s.edge(ctx, -1)
}

func (s *source) edge(ctx context.Context, dir int) (oplog.Timestamp, bool, error) {
	sortKey := "$natural"
	if s.mode == CursorPoll {
		sortKey = "ts"
	}
	var doc bson.Raw
	err := s.oplog.FindOne(ctx, bson.D{}, options.FindOne().
		SetSort(bson.D{{Key: sortKey, Value: dir}}).
		SetProjection(bson.D{{Key: "ts", Value: 1}})).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return oplog.Timestamp{}, false, nil
	}
	if err != nil {
		return oplog.Timestamp{}, false, fmt.Errorf("read oplog edge: %w", err)
	}
	ts, err := oplog.EntryTS(doc)
	return ts, err == nil, err
}

// firstAtOrAfter returns the first entry's ts that is >= ts.
func (s *source) firstAtOrAfter(ctx context.Context, ts oplog.Timestamp) (oplog.Timestamp, bool, error) {
	var doc bson.Raw
	o := options.FindOne().SetProjection(bson.D{{Key: "ts", Value: 1}})
	if s.mode == CursorPoll {
		o.SetSort(bson.D{{Key: "ts", Value: 1}})
	}
	err := s.oplog.FindOne(ctx, bson.D{{Key: "ts", Value: bson.D{{Key: "$gte", Value: ts.BSON()}}}}, o).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return oplog.Timestamp{}, false, nil
	}
	if err != nil {
		return oplog.Timestamp{}, false, fmt.Errorf("find oplog position %s: %w", ts, err)
	}
	got, err := oplog.EntryTS(doc)
	return got, err == nil, err
}

// open starts a read of every entry with ts >= from, in ts order. In poll
// mode a read returns at most pollLimit+extra entries: extra is how many
// already passed entries it reads again (recheck).
func (s *source) open(ctx context.Context, from oplog.Timestamp, extra int) (*mongo.Cursor, error) {
	filter := bson.D{{Key: "ts", Value: bson.D{{Key: "$gte", Value: from.BSON()}}}}
	o := options.Find().SetBatchSize(s.batch)
	switch s.mode {
	case CursorPoll:
		o.SetSort(bson.D{{Key: "ts", Value: 1}}).SetLimit(int64(pollLimit + extra))
	default:
		o.SetCursorType(options.TailableAwait).SetMaxAwaitTime(awaitTime)
	}
	cur, err := s.oplog.Find(ctx, filter, o)
	if err != nil {
		return nil, fmt.Errorf("open oplog cursor at %s: %w", from, err)
	}
	return cur, nil
}
