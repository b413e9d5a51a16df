package testserver

import (
	"context"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// A started server keeps an oplog: a write shows up in local.oplog.rs, so the
// tailer has something to follow.
func TestStartKeepsOplog(t *testing.T) {
	s := StartT(t, Options{})
	ctx := context.Background()
	c, err := s.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(ctx)
	if _, err := c.Database("d").Collection("c").InsertOne(ctx, bson.D{{Key: "_id", Value: 1}}); err != nil {
		t.Fatal(err)
	}
	n, err := c.Database("local").Collection("oplog.rs").CountDocuments(ctx, bson.D{{Key: "ns", Value: "d.c"}, {Key: "op", Value: "i"}})
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("oplog holds %d insert entries for d.c, want 1", n)
	}
	before, err := s.LastTS(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	c2, err := s.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Disconnect(ctx)
	after, err := s.LastTS(ctx, c2)
	if err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Fatalf("after restart the newest oplog entry is %v, want %v", after, before)
	}
}

func TestReplSetName(t *testing.T) {
	s := StartT(t, Options{ReplSetName: "shard2", NoOplog: true})
	c, err := s.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(t.Context())
	var hello struct {
		SetName string `bson:"setName"`
	}
	if err := c.Database("admin").RunCommand(t.Context(), bson.D{{Key: "hello", Value: 1}}).Decode(&hello); err != nil {
		t.Fatal(err)
	}
	if hello.SetName != "shard2" {
		t.Errorf("setName %q, want shard2", hello.SetName)
	}
}
