package snapshot

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readconcern"
)

// source is the replica set a snapshot copies.
//
// Every read uses majority read concern: the copy then holds no write that
// a failover could roll back (replay could never undo it), and the
// positions are majority-committed, so every entry up to Start is visible
// to the copy's reads, which begin after Start was read.
type source struct {
	client  *mongo.Client
	setName string
	server  string // "MongoDB 7.0.14", "FerretDB v1.24.0"
	// ferret: FerretDB, whose oplog is a plain table: the newest entry is
	// found by sorting on ts, not by $natural order, as the tailer does.
	ferret bool
}

// openSource checks that client talks to a replica set member and notes
// what server it is.
func openSource(ctx context.Context, client *mongo.Client) (*source, error) {
	var hello struct {
		SetName string `bson:"setName"`
	}
	if err := client.Database("admin").RunCommand(ctx, bson.D{{Key: "hello", Value: 1}}).Decode(&hello); err != nil {
		return nil, fmt.Errorf("source unreachable or not MongoDB (hello failed): %w", err)
	}
	if hello.SetName == "" {
		return nil, errors.New("source is not a replica set member, so it keeps no oplog and a snapshot could not be made consistent: point at a replica set (a single-node replica set works)")
	}
	s := &source{client: client, setName: hello.SetName, server: "MongoDB"}
	var info struct {
		Version  string `bson:"version"`
		FerretDB string `bson:"ferretdbVersion"`
	}
	if err := client.Database("admin").RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		return nil, fmt.Errorf("buildInfo: %w", err)
	}
	s.server = "MongoDB " + info.Version
	if info.FerretDB != "" {
		s.ferret, s.server = true, "FerretDB "+info.FerretDB
	}
	return s, nil
}

// coll returns a collection handle that reads with majority read concern.
func (s *source) coll(db, name string) *mongo.Collection {
	return s.client.Database(db).Collection(name, options.Collection().SetReadConcern(readconcern.Majority()))
}
