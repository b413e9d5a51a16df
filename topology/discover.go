package topology

import (
	"context"
	"errors"
)

// Discover connects to uri once and lists the replica sets to follow:
//   - a mongos (hello msg "isdbgrid"): the shards in config.shards read
//     through it, and its config server from getShardMap (serverStatus if
//     that fails);
//   - a config server member (hello configsvr, or Options.Assume, or a
//     FerretDB member with a non-empty config.shards): the shards in its
//     config.shards and its own replica set from hello;
//   - any other replica set member: that replica set alone.
//
// Every URI in the result carries uri's credentials and options. Shards
// that are not replica sets are an error (ErrNotReplicaSet), as is an empty
// config.shards on a cluster.
func Discover(ctx context.Context, uri string, opts Options) (Topology, error) {
	d, err := openDiscoverer(ctx, uri, opts)
	if err != nil {
		return Topology{}, err
	}
	t, err := d.read(ctx)
	return t, errors.Join(err, d.close(ctx))
}
