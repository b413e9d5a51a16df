package topology

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// configFromShardMap reads the config server's host string from a
// getShardMap reply. Every MongoDB version's router keeps the config server
// in its shard registry under the id "config", and getShardMap lists that
// registry in "map" (older versions also key it by host and set name, which
// is ignored here).
func configFromShardMap(reply bson.Raw) (string, error) {
	s, ok := reply.Lookup("map", configShardID).StringValueOK()
	if !ok || s == "" {
		return "", errors.New(`getShardMap reply has no string map.config`)
	}
	return s, nil
}

// configFromServerStatus reads sharding.configsvrConnectionString, which
// mongos and shard members report in serverStatus since MongoDB 3.2.
func configFromServerStatus(reply bson.Raw) (string, error) {
	s, ok := reply.Lookup("sharding", "configsvrConnectionString").StringValueOK()
	if !ok || s == "" {
		return "", errors.New("serverStatus has no sharding.configsvrConnectionString")
	}
	return s, nil
}

// mongosConfigServer asks a mongos which replica set its config server is.
// getShardMap first (action getShardMap on the cluster); if that fails,
// for instance for lack of the privilege, serverStatus (action
// serverStatus). Both fail: an error naming both causes.
func mongosConfigServer(ctx context.Context, client *mongo.Client) (HostString, error) {
	host, errMap := askMongos(ctx, client, "getShardMap", configFromShardMap)
	from := "getShardMap"
	if errMap != nil {
		var errStatus error
		host, errStatus = askMongos(ctx, client, "serverStatus", configFromServerStatus)
		if errStatus != nil {
			return HostString{}, fmt.Errorf("topology: the mongos did not name its config server replica set: getShardMap: %w; serverStatus: %w", errMap, errStatus)
		}
		from = "serverStatus"
	}
	h, err := ParseHostString(host)
	if err != nil {
		return HostString{}, fmt.Errorf("topology: config server (from %s): %w", from, err)
	}
	return h, nil
}

func askMongos(ctx context.Context, client *mongo.Client, cmd string, parse func(bson.Raw) (string, error)) (string, error) {
	var reply bson.Raw
	if err := client.Database("admin").RunCommand(ctx, bson.D{{Key: cmd, Value: 1}}).Decode(&reply); err != nil {
		return "", err
	}
	return parse(reply)
}
