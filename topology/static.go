package topology

import (
	"fmt"
	"slices"

	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/connstring"
)

// Member is one replica set named by the operator instead of discovered.
type Member struct {
	// Name is the stream name; empty: the URI's replicaSet option.
	Name string
	// URI is used as given.
	URI string
	// Role defaults to RoleReplSet.
	Role Role
}

// Static builds a Topology from replica sets given by hand: for a
// deployment whose config.shards tidelog may not read, or to follow some
// replica sets only. Nothing is discovered and nothing is contacted (a
// mongodb+srv URI is still looked up in DNS to validate it); each URI is
// kept as the operator wrote it.
func Static(members []Member) (Topology, error) {
	sets := make([]ReplicaSet, 0, len(members))
	for i, m := range members {
		cs, err := connstring.ParseAndValidate(m.URI)
		if err != nil {
			return Topology{}, fmt.Errorf("topology: member %d (%s): %w", i, RedactURI(m.URI), err)
		}
		hosts := slices.Clone(cs.Hosts)
		slices.Sort(hosts)
		r := ReplicaSet{Name: m.Name, Role: m.Role, SetName: cs.ReplicaSet, Hosts: slices.Compact(hosts), URI: m.URI}
		if r.Name == "" {
			r.Name = cs.ReplicaSet
		}
		if r.Name == "" {
			return Topology{}, fmt.Errorf("topology: member %d (%s): no Name and no replicaSet option to take one from", i, RedactURI(m.URI))
		}
		switch r.Role {
		case "":
			r.Role = RoleReplSet
		case RoleConfig, RoleShard, RoleReplSet:
		default:
			return Topology{}, fmt.Errorf("topology: member %s: unknown role %q", r.Name, r.Role)
		}
		sets = append(sets, r)
	}
	return newTopology(KindStatic, sets)
}
