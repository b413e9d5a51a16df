package topology

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tidelog/tidelog/internal/testserver"
)

// cluster is FerretDB standing in for a sharded cluster: one server as the
// config server, whose config.shards lists the others by their real
// addresses. Every FerretDB reports replica set testserver.ReplicaSet, so
// shards get distinct _ids over one set name, as MongoDB allows (a shard's
// _id need not be its set name).
type cluster struct {
	config *testserver.Server
	shards map[string]*testserver.Server
}

// startCluster starts a config server and one server per shard id, lists
// the shards in config.shards, and writes a marker naming each server into
// it, so a test can tell which server a built URI reaches.
func startCluster(t *testing.T, shardIDs ...string) *cluster {
	t.Helper()
	servers := startServers(t, 1+len(shardIDs))
	c := &cluster{config: servers[0], shards: map[string]*testserver.Server{}}
	writeMarker(t, c.config, "config")
	for i, id := range shardIDs {
		c.shards[id] = servers[i+1]
		writeMarker(t, servers[i+1], id)
		c.addShard(t, id, false)
	}
	return c
}

// startServers starts n servers at once (each takes a second or two) and
// stops them when the test ends.
func startServers(t *testing.T, n int) []*testserver.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	servers := make([]*testserver.Server, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range servers {
		dir := t.TempDir()
		wg.Go(func() { servers[i], errs[i] = testserver.Start(ctx, testserver.Options{Dir: dir}) })
	}
	wg.Wait()
	for _, s := range servers {
		if s != nil {
			t.Cleanup(func() { s.Close() })
		}
	}
	for _, err := range errs {
		if err != nil {
			t.Fatalf("start FerretDB: %v", err)
		}
	}
	return servers
}

func (c *cluster) shardHost(id string) string {
	return testserver.ReplicaSet + "/" + c.shards[id].Addr
}

func (c *cluster) addShard(t *testing.T, id string, draining bool) {
	t.Helper()
	doc := bson.D{{Key: "_id", Value: id}, {Key: "host", Value: c.shardHost(id)}, {Key: "state", Value: 1}}
	if draining {
		doc = append(doc, bson.E{Key: "draining", Value: true})
	}
	shardsColl(t, c.config, func(ctx context.Context, coll *mongo.Collection) error {
		_, err := coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}}, doc, options.Replace().SetUpsert(true))
		return err
	})
}

func (c *cluster) removeShard(t *testing.T, id string) {
	t.Helper()
	shardsColl(t, c.config, func(ctx context.Context, coll *mongo.Collection) error {
		_, err := coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
		return err
	})
}

func insertShardDoc(t *testing.T, s *testserver.Server, doc bson.D) {
	t.Helper()
	shardsColl(t, s, func(ctx context.Context, coll *mongo.Collection) error {
		_, err := coll.InsertOne(ctx, doc)
		return err
	})
}

func shardsColl(t *testing.T, s *testserver.Server, fn func(context.Context, *mongo.Collection) error) {
	t.Helper()
	withClient(t, s.URI, func(ctx context.Context, c *mongo.Client) error {
		return fn(ctx, c.Database("config").Collection("shards"))
	})
}

func writeMarker(t *testing.T, s *testserver.Server, name string) {
	t.Helper()
	withClient(t, s.URI, func(ctx context.Context, c *mongo.Client) error {
		_, err := c.Database("tidelogtest").Collection("whoami").InsertOne(ctx, bson.D{{Key: "_id", Value: "me"}, {Key: "name", Value: name}})
		return err
	})
}

// reach connects with r.URI as a pipeline would (no directConnection: the
// driver must find the member through replicaSet=), checks hello's setName
// and returns the marker of the server it reached.
func reach(t *testing.T, r ReplicaSet) string {
	t.Helper()
	var name string
	withClient(t, r.URI, func(ctx context.Context, c *mongo.Client) error {
		h, err := runHello(ctx, c)
		if err != nil {
			return err
		}
		if h.SetName != r.SetName {
			return fmt.Errorf("hello setName %q, want %q", h.SetName, r.SetName)
		}
		var doc struct {
			Name string `bson:"name"`
		}
		err = c.Database("tidelogtest").Collection("whoami").FindOne(ctx, bson.D{{Key: "_id", Value: "me"}}).Decode(&doc)
		name = doc.Name
		return err
	})
	return name
}

func withClient(t *testing.T, uri string, fn func(context.Context, *mongo.Client) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatalf("connect %s: %v", RedactURI(uri), err)
	}
	defer c.Disconnect(ctx)
	if err := fn(ctx, c); err != nil {
		t.Fatalf("%s: %v", RedactURI(uri), err)
	}
}

// waitFor polls cond until it holds or within passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		<-tick.C
	}
}
