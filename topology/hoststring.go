package topology

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrNotReplicaSet is returned for a shard (or config server) whose host
// string names no replica set. Such a member keeps no oplog, and without an
// oplog there is nothing to replay to a point in time.
var ErrNotReplicaSet = errors.New("not a replica set: every shard must be a replica set for point-in-time recovery (a standalone keeps no oplog)")

// HostString is a member list as MongoDB writes it in config.shards' host
// field, getShardMap and serverStatus: "setName/host1:port1,host2:port2".
type HostString struct {
	SetName string
	// Hosts are sorted and without duplicates, so that the same members
	// listed in another order give the same URI and no spurious change.
	Hosts []string
}

// ParseHostString parses "setName/h1:p1,h2:p2". A bare "h1:p1" (a
// standalone shard, possible before MongoDB 3.6) is ErrNotReplicaSet.
func ParseHostString(s string) (HostString, error) {
	if strings.TrimSpace(s) == "" {
		return HostString{}, errors.New("empty host string")
	}
	setName, list, ok := strings.Cut(s, "/")
	if !ok {
		return HostString{}, fmt.Errorf("host string %q: %w", s, ErrNotReplicaSet)
	}
	if setName == "" || strings.ContainsAny(setName, " ,") {
		return HostString{}, fmt.Errorf("host string %q: bad replica set name %q", s, setName)
	}
	var hosts []string
	for _, h := range strings.Split(list, ",") {
		if h == "" || strings.ContainsAny(h, " \t") {
			return HostString{}, fmt.Errorf("host string %q: bad host %q", s, h)
		}
		hosts = append(hosts, h)
	}
	slices.Sort(hosts)
	return HostString{SetName: setName, Hosts: slices.Compact(hosts)}, nil
}

// String writes h back in MongoDB's form.
func (h HostString) String() string {
	return h.SetName + "/" + strings.Join(h.Hosts, ",")
}
