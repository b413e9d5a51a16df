package topology

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// discoverer holds a connection to the seed and what the seed is, so a
// Watcher re-reads the topology without reconnecting or reclassifying.
type discoverer struct {
	client   *mongo.Client
	seed     seed
	redacted string // the seed URI for logs and errors
	kind     Kind
	opts     Options
}

// openDiscoverer connects to uri and classifies it. The connection is the
// caller's to close.
func openDiscoverer(ctx context.Context, uri string, opts Options) (*discoverer, error) {
	s, err := parseSeed(uri)
	if err != nil {
		return nil, err
	}
	d := &discoverer{seed: s, redacted: RedactURI(uri), opts: opts}
	d.client, err = mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		return nil, fmt.Errorf("topology: connect to %s: %w", d.redacted, err)
	}
	ctx, cancel := context.WithTimeout(ctx, opts.timeout())
	defer cancel()
	if err := d.classify(ctx); err != nil {
		_ = d.client.Disconnect(ctx)
		return nil, err
	}
	return d, nil
}

func (d *discoverer) classify(ctx context.Context) error {
	h, err := runHello(ctx, d.client)
	if err != nil {
		return fmt.Errorf("topology: seed %s: %w", d.redacted, err)
	}
	d.kind, err = classify(h, d.opts.Assume, func() (bool, error) { return d.inferConfig(ctx, h.SetName) })
	if err != nil {
		return fmt.Errorf("topology: seed %s: %w", d.redacted, err)
	}
	d.opts.Log.Info().Str("seed", d.redacted).Str("kind", string(d.kind)).Msg("topology: seed classified")
	return nil
}

// inferConfig covers what hello cannot say on a stand-in server: MongoDB
// reports configsvr on every config server member, so its silence is
// trusted; FerretDB never reports it, so a FerretDB member holding shards
// in config.shards is taken for the config server it stands in for.
func (d *discoverer) inferConfig(ctx context.Context, setName string) (bool, error) {
	if !isFerretDB(ctx, d.client) {
		return false, nil
	}
	n, err := d.client.Database("config").Collection("shards").CountDocuments(ctx, bson.D{})
	if err != nil {
		return false, fmt.Errorf("count config.shards on FerretDB replica set %s: %w", setName, err)
	}
	if n > 0 {
		d.opts.Log.Info().Str("set", setName).Int64("shards", n).
			Msg("topology: FerretDB cannot report configsvr; its config.shards is not empty, so it is taken for the config server")
	}
	return n > 0, nil
}

// read discovers the replica sets once, within Options.Timeout.
func (d *discoverer) read(ctx context.Context) (Topology, error) {
	ctx, cancel := context.WithTimeout(ctx, d.opts.timeout())
	defer cancel()
	var config HostString
	switch d.kind {
	case KindMongos:
		h, err := mongosConfigServer(ctx, d.client)
		if err != nil {
			return Topology{}, err
		}
		config = h
	case KindConfigServer, KindReplicaSet:
		h, err := runHello(ctx, d.client)
		if err == nil {
			config, err = h.members()
		}
		if err != nil {
			return Topology{}, fmt.Errorf("topology: seed %s: %w", d.redacted, err)
		}
	}
	if d.kind == KindReplicaSet {
		r, err := d.replicaSet(config.SetName, RoleReplSet, config)
		if err != nil {
			return Topology{}, err
		}
		return newTopology(d.kind, []ReplicaSet{r})
	}
	shards, err := readShards(ctx, d.client)
	if err != nil {
		return Topology{}, err
	}
	return d.cluster(config, shards)
}

// cluster assembles the config server and the shards. A config.shards
// entry with _id "config" is the config server itself holding data
// (MongoDB 8.0+): it is one replica set with one oplog, so it is listed
// once, as the config server, flagged ConfigShard.
func (d *discoverer) cluster(config HostString, shards []shardDoc) (Topology, error) {
	cfg, err := d.replicaSet(config.SetName, RoleConfig, config)
	if err != nil {
		return Topology{}, err
	}
	sets := []ReplicaSet{cfg}
	for _, s := range shards {
		if s.ID == configShardID {
			sets[0].ConfigShard, sets[0].Draining = true, s.Draining
			continue
		}
		r, err := d.replicaSet(s.ID, RoleShard, s.Host)
		if err != nil {
			return Topology{}, err
		}
		r.Draining = s.Draining
		sets = append(sets, r)
	}
	return newTopology(d.kind, sets)
}

func (d *discoverer) replicaSet(name string, role Role, h HostString) (ReplicaSet, error) {
	uri, err := d.seed.uriFor(h)
	if err != nil {
		return ReplicaSet{}, fmt.Errorf("topology: %s %s: %w", role, name, err)
	}
	return ReplicaSet{Name: name, Role: role, SetName: h.SetName, Hosts: h.Hosts, URI: uri}, nil
}

func (d *discoverer) close(ctx context.Context) error {
	if err := d.client.Disconnect(ctx); err != nil {
		return fmt.Errorf("topology: disconnect from %s: %w", d.redacted, err)
	}
	return nil
}
