package topology

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Role says what a replica set is to the deployment. A restore needs to
// know: a cluster restore brings back the config server and every shard at
// one cluster time, a replica set stands alone.
type Role string

const (
	// RoleConfig is a sharded cluster's config server replica set (CSRS).
	RoleConfig Role = "config"
	// RoleShard is one shard of a sharded cluster.
	RoleShard Role = "shard"
	// RoleReplSet is a replica set that is not part of a cluster, or whose
	// part tidelog was not told.
	RoleReplSet Role = "replset"
)

// rank orders roles in a Topology: the config server first, because a
// cluster restore starts from it.
func (r Role) rank() int {
	switch r {
	case RoleConfig:
		return 0
	case RoleShard:
		return 1
	default:
		return 2
	}
}

// ReplicaSet is one replica set to follow: one oplog, one pipeline.
type ReplicaSet struct {
	// Name identifies the replica set's stream and stays the same for its
	// life: a shard's _id in config.shards (which may differ from its
	// replica set name), the replica set name otherwise.
	Name string
	Role Role
	// SetName is the replica set name its members report in hello.
	SetName string
	// Hosts is the seed list, sorted and without duplicates.
	Hosts []string
	// URI connects to the whole replica set (replicaSet=SetName), with the
	// seed URI's credentials and TLS options. It may hold a password: log
	// RedactedURI or the ReplicaSet itself (String redacts), never URI.
	URI string
	// Draining is config.shards' draining flag: the shard is being removed
	// and its chunks are moving away. Its oplog must still be followed until
	// it is gone, or the writes that drain it are lost.
	Draining bool
	// ConfigShard marks a config server that also holds user data (MongoDB
	// 8.0+ "config shard", listed in config.shards with _id "config").
	ConfigShard bool
}

// RedactedURI is URI with its password and secret options masked, for logs.
func (r ReplicaSet) RedactedURI() string { return RedactURI(r.URI) }

// String names the replica set for logs and errors without its secrets.
func (r ReplicaSet) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s (set %s", r.Role, r.Name, r.SetName)
	if r.Draining {
		b.WriteString(", draining")
	}
	if r.ConfigShard {
		b.WriteString(", config shard")
	}
	fmt.Fprintf(&b, ") %s", r.RedactedURI())
	return b.String()
}

// same reports whether a and b would be followed the same way; a difference
// is a change a pipeline may have to act on (new hosts, draining started).
func (r ReplicaSet) same(o ReplicaSet) bool {
	return r.Name == o.Name && r.Role == o.Role && r.SetName == o.SetName && r.URI == o.URI &&
		r.Draining == o.Draining && r.ConfigShard == o.ConfigShard && slices.Equal(r.Hosts, o.Hosts)
}

// Topology is every replica set of one deployment, in a stable order: the
// config server first, then shards, then plain replica sets, each by Name.
// A stable order makes logs, diffs and tests repeatable.
type Topology struct {
	// Seed is what the seed URI turned out to be (KindStatic for Static).
	Seed        Kind
	ReplicaSets []ReplicaSet
}

// newTopology sorts sets and refuses two with one Name: a Name is a
// stream, and two replica sets writing one stream would corrupt it.
func newTopology(seed Kind, sets []ReplicaSet) (Topology, error) {
	sets = slices.Clone(sets)
	slices.SortFunc(sets, func(a, b ReplicaSet) int {
		return cmp.Or(cmp.Compare(a.Role.rank(), b.Role.rank()), strings.Compare(a.Name, b.Name))
	})
	for i := 1; i < len(sets); i++ {
		if sets[i].Name == sets[i-1].Name {
			return Topology{}, fmt.Errorf("topology: two replica sets named %q (%s and %s): names must be unique",
				sets[i].Name, sets[i-1].Role, sets[i].Role)
		}
	}
	return Topology{Seed: seed, ReplicaSets: sets}, nil
}

// Find returns the replica set called name.
func (t Topology) Find(name string) (ReplicaSet, bool) {
	i := slices.IndexFunc(t.ReplicaSets, func(r ReplicaSet) bool { return r.Name == name })
	if i < 0 {
		return ReplicaSet{}, false
	}
	return t.ReplicaSets[i], true
}

// Names lists the replica sets' names in the topology's order.
func (t Topology) Names() []string {
	names := make([]string, len(t.ReplicaSets))
	for i, r := range t.ReplicaSets {
		names[i] = r.Name
	}
	return names
}
