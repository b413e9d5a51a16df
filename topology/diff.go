package topology

// Changes is what differs between two topologies, each list in the newer
// topology's order (Removed in the older one's). A pipeline manager starts
// a pipeline for each Added, stops one for each Removed, and decides what a
// Changed one (new hosts, draining) needs.
type Changes struct {
	Added   []ReplicaSet
	Removed []ReplicaSet
	// Changed holds the new state of each replica set whose Name stayed but
	// whose role, set name, hosts, URI, draining or config-shard flag did not.
	Changed []ReplicaSet
}

// Empty reports whether nothing changed.
func (c Changes) Empty() bool {
	return len(c.Added) == 0 && len(c.Removed) == 0 && len(c.Changed) == 0
}

// Diff compares two topologies by replica set Name.
func Diff(old, cur Topology) Changes {
	var c Changes
	for _, r := range cur.ReplicaSets {
		prev, ok := old.Find(r.Name)
		switch {
		case !ok:
			c.Added = append(c.Added, r)
		case !prev.same(r):
			c.Changed = append(c.Changed, r)
		}
	}
	for _, r := range old.ReplicaSets {
		if _, ok := cur.Find(r.Name); !ok {
			c.Removed = append(c.Removed, r)
		}
	}
	return c
}
