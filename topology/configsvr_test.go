package topology

import (
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// The getShardMap reply shape documented for MongoDB 4.4 to 8.x (map,
// hosts, connStrings), with the config server under "config".
func TestConfigFromShardMap(t *testing.T) {
	reply := rawDoc(t, bson.D{
		{Key: "map", Value: bson.D{
			{Key: "shard01", Value: "shard01/localhost:27018,localhost:27019"},
			{Key: "config", Value: "configRepl/localhost:27033,localhost:27034"},
		}},
		{Key: "hosts", Value: bson.D{{Key: "localhost:27018", Value: "shard01"}, {Key: "localhost:27033", Value: "config"}}},
		{Key: "connStrings", Value: bson.D{{Key: "configRepl/localhost:27033,localhost:27034", Value: "config"}}},
		{Key: "ok", Value: 1.0},
	})
	got, err := configFromShardMap(reply)
	if err != nil || got != "configRepl/localhost:27033,localhost:27034" {
		t.Fatalf("got %q, %v", got, err)
	}
	if _, err := configFromShardMap(rawDoc(t, bson.D{{Key: "map", Value: bson.D{{Key: "shard01", Value: "s/h:1"}}}})); err == nil {
		t.Fatal("a map without config was accepted")
	}
}

func TestConfigFromServerStatus(t *testing.T) {
	reply := rawDoc(t, bson.D{
		{Key: "host", Value: "mongos1:27017"},
		{Key: "process", Value: "mongos"},
		{Key: "sharding", Value: bson.D{
			{Key: "configsvrConnectionString", Value: "cfg/cfg1:27019,cfg2:27019,cfg3:27019"},
			{Key: "lastSeenConfigServerOpTime", Value: bson.D{{Key: "ts", Value: bson.Timestamp{T: 1, I: 1}}, {Key: "t", Value: int64(1)}}},
		}},
	})
	got, err := configFromServerStatus(reply)
	if err != nil || got != "cfg/cfg1:27019,cfg2:27019,cfg3:27019" {
		t.Fatalf("got %q, %v", got, err)
	}
	if _, err := configFromServerStatus(rawDoc(t, bson.D{{Key: "host", Value: "h"}})); err == nil {
		t.Fatal("a serverStatus without sharding was accepted")
	}
}
