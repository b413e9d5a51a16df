package topology

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readconcern"
)

// configShardID is the _id MongoDB 8.0+ gives the config server in
// config.shards when it also holds data (a "config shard"); it is the
// config server's id in getShardMap in every version.
const configShardID = "config"

// errNoShards: a sharded cluster always has a shard (MongoDB refuses to
// remove the last one), so an empty config.shards is a read of the wrong
// server or of a cluster being set up, never a reason to stop following
// every shard.
var errNoShards = errors.New("config.shards is empty: a sharded cluster always has at least one shard")

// shardDoc is the part of a config.shards document tidelog uses. The other
// fields (state, tags, topologyTime, replSetConfigVersion) are the
// balancer's and the router's business.
type shardDoc struct {
	ID       string
	Host     HostString
	Draining bool
}

// decodeShard reads one config.shards document. A shard that is not a
// replica set is an error, not a shard to skip: skipping it would leave its
// data out of every backup without a word.
func decodeShard(raw bson.Raw) (shardDoc, error) {
	id, ok := raw.Lookup("_id").StringValueOK()
	if !ok {
		return shardDoc{}, fmt.Errorf("topology: config.shards document %s: _id is not a string", raw)
	}
	host, ok := raw.Lookup("host").StringValueOK()
	if !ok {
		return shardDoc{}, fmt.Errorf("topology: shard %s: host is missing or not a string", id)
	}
	h, err := ParseHostString(host)
	if err != nil {
		return shardDoc{}, fmt.Errorf("topology: shard %s: %w", id, err)
	}
	d := shardDoc{ID: id, Host: h}
	if v, err := raw.LookupErr("draining"); err == nil {
		b, ok := v.BooleanOK()
		if !ok {
			return shardDoc{}, fmt.Errorf("topology: shard %s: draining is %s, not a boolean", id, v.Type)
		}
		d.Draining = b
	}
	return d, nil
}

// readShards reads config.shards through client, a mongos or a config
// server member: the same query either way, so tests against a stand-in
// config server exercise the read a mongos serves. Majority read concern:
// an addShard that a config server failover rolls back is never reported.
func readShards(ctx context.Context, client *mongo.Client) ([]shardDoc, error) {
	coll := client.Database("config").Collection("shards",
		options.Collection().SetReadConcern(readconcern.Majority()))
	cur, err := coll.Find(ctx, bson.D{}, options.Find().
		SetSort(bson.D{{Key: "_id", Value: 1}}).
		SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: "host", Value: 1}, {Key: "draining", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("topology: read config.shards: %w", err)
	}
	defer cur.Close(ctx)
	var shards []shardDoc
	for cur.Next(ctx) {
		d, err := decodeShard(cur.Current)
		if err != nil {
			return nil, err
		}
		shards = append(shards, d)
	}
	if err := cur.Err(); err != nil {
		return nil, fmt.Errorf("topology: read config.shards: %w", err)
	}
	if len(shards) == 0 {
		return nil, fmt.Errorf("topology: %w", errNoShards)
	}
	return shards, nil
}
