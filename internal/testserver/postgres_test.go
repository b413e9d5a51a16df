package testserver

import (
	"context"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// The PostgreSQL-backed server (used by benchmarks) serves reads and writes.
func TestPostgresBackend(t *testing.T) {
	s := StartT(t, Options{NoOplog: true, Postgres: true})
	c, err := s.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(context.Background())
	coll := c.Database("d").Collection("c")
	ctx := context.Background()
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: 1}, {Key: "x", Value: 1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: 1}}, bson.D{{Key: "$set", Value: bson.D{{Key: "x", Value: 2}}}}); err != nil {
		t.Fatal(err)
	}
	var doc struct{ X int32 }
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: 1}}).Decode(&doc); err != nil || doc.X != 2 {
		t.Fatalf("read back %+v, %v", doc, err)
	}
}
