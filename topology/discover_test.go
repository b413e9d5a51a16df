package topology

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/connstring"

	"github.com/tidelog/tidelog/internal/testserver"
)

// A stand-in config server listing three shards: Discover finds the config
// server and the three shards, and each URI it builds reaches the right
// server through replicaSet= (not the seed's directConnection) and carries
// the seed's options. Auto takes FerretDB with shards in config.shards for
// the config server; Assume says so outright; both read the same way.
func TestDiscoverConfigServer(t *testing.T) {
	t.Parallel()
	c := startCluster(t, "shardB", "shardA", "shardC")
	seedURI := c.config.URI + "&appName=tidelog-topology-test&connectTimeoutMS=4000"
	for _, assume := range []Kind{KindAuto, KindConfigServer} {
		t.Run("assume="+string(assume), func(t *testing.T) {
			top, err := Discover(context.Background(), seedURI, Options{Assume: assume})
			if err != nil {
				t.Fatal(err)
			}
			if top.Seed != KindConfigServer {
				t.Errorf("seed kind %q", top.Seed)
			}
			if got := top.Names(); !slices.Equal(got, []string{testserver.ReplicaSet, "shardA", "shardB", "shardC"}) {
				t.Fatalf("names %v", got)
			}
			for _, r := range top.ReplicaSets {
				want, role := r.Name, RoleShard
				if r.Name == testserver.ReplicaSet {
					want, role = "config", RoleConfig
				}
				if r.Role != role || r.SetName != testserver.ReplicaSet || r.Draining || r.ConfigShard {
					t.Errorf("%v: role %s set %s draining %v", r, r.Role, r.SetName, r.Draining)
				}
				cs, err := connstring.ParseAndValidate(r.URI)
				if err != nil {
					t.Fatal(err)
				}
				if cs.DirectConnectionSet || cs.ReplicaSet != r.SetName || cs.AppName != "tidelog-topology-test" || cs.ConnectTimeout.Milliseconds() != 4000 {
					t.Errorf("%v: options not carried over as expected", r)
				}
				if got := reach(t, r); got != want {
					t.Errorf("%s's URI reaches server %q, want %q", r.Name, got, want)
				}
			}
		})
	}
}

// Without config.shards a replica set member is followed alone; so is a
// stand-in config server the operator says is a plain replica set.
func TestDiscoverReplicaSet(t *testing.T) {
	t.Parallel()
	c := startCluster(t, "shardA")
	for name, tc := range map[string]struct {
		uri    string
		assume Kind
		marker string
	}{
		"plain member":        {c.shards["shardA"].URI, KindAuto, "shardA"},
		"config told replset": {c.config.URI, KindReplicaSet, "config"},
	} {
		t.Run(name, func(t *testing.T) {
			top, err := Discover(context.Background(), tc.uri, Options{Assume: tc.assume})
			if err != nil {
				t.Fatal(err)
			}
			if top.Seed != KindReplicaSet || len(top.ReplicaSets) != 1 {
				t.Fatalf("got %+v", top)
			}
			r := top.ReplicaSets[0]
			if r.Name != testserver.ReplicaSet || r.Role != RoleReplSet {
				t.Fatalf("got %v", r)
			}
			if got := reach(t, r); got != tc.marker {
				t.Fatalf("URI reaches %q, want %q", got, tc.marker)
			}
		})
	}
}

// FerretDB has neither getShardMap nor a sharding section in serverStatus,
// as a mongos that refuses both would: told it is a mongos, Discover reads
// the shards but cannot name the config server, and says why, both ways.
func TestDiscoverMongosWithoutConfigServerName(t *testing.T) {
	t.Parallel()
	c := startCluster(t, "shardA")
	_, err := Discover(context.Background(), c.config.URI, Options{Assume: KindMongos})
	if err == nil {
		t.Fatal("Discover succeeded without a config server")
	}
	for _, want := range []string{"config server", "getShardMap", "serverStatus"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// MongoDB 8.0's config shard: config.shards lists the config server itself
// under _id "config". It is one replica set, listed once, flagged.
func TestDiscoverConfigShard(t *testing.T) {
	t.Parallel()
	c := startCluster(t, "shardA")
	insertShardDoc(t, c.config, bson.D{{Key: "_id", Value: "config"}, {Key: "host", Value: testserver.ReplicaSet + "/" + c.config.Addr}})
	top, err := Discover(context.Background(), c.config.URI, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := top.Names(); !slices.Equal(got, []string{testserver.ReplicaSet, "shardA"}) {
		t.Fatalf("names %v", got)
	}
	if cfg := top.ReplicaSets[0]; cfg.Role != RoleConfig || !cfg.ConfigShard {
		t.Fatalf("config server %v: ConfigShard not set", cfg)
	}
}

// A shard that is not a replica set, or a cluster config.shards lists no
// shard of, is an error naming the cause, never a smaller topology.
func TestDiscoverRejects(t *testing.T) {
	t.Parallel()
	servers := startServers(t, 2)
	empty, bad := servers[0], servers[1]
	insertShardDoc(t, bad, bson.D{{Key: "_id", Value: "old"}, {Key: "host", Value: "127.0.0.1:1"}})

	_, err := Discover(context.Background(), bad.URI, Options{})
	if !errors.Is(err, ErrNotReplicaSet) || !strings.Contains(err.Error(), "shard old") {
		t.Errorf("standalone shard: %v", err)
	}
	_, err = Discover(context.Background(), empty.URI, Options{Assume: KindConfigServer})
	if !errors.Is(err, errNoShards) {
		t.Errorf("empty config.shards: %v", err)
	}
}
