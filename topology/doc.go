// Package topology finds the replica sets tidelog must follow to back up a
// deployment, and watches them change.
//
// Point-in-time recovery replays oplogs, and only replica sets keep one, so
// the unit here is the replica set: a plain replica set is one, a sharded
// cluster is its config server replica set plus one per shard. Discover
// reads that list once from a seed URI (a mongos, a config server member or
// a replica set member); a Watcher re-reads it at an interval so a pipeline
// can be started for a shard that was added and stopped for one that was
// removed. Static builds a fixed list when the operator names every replica
// set by hand.
//
// What is read from where, and what the FerretDB-backed tests can and cannot
// show, is in docs/topology.md.
package topology
