package replay

import "strings"

// Kind says whether an entry's namespace holds user data a replay writes.
type Kind int

const (
	// User data: replayed.
	User Kind = iota
	// NoOp: an "n" entry; never a write.
	NoOp
	// Internal: server bookkeeping that a restore must not write: the local
	// database, config.* (sharding metadata, sessions, transactions),
	// <db>.system.* other than system.views, system.js and system.buckets.*
	// (a timeseries collection's data), and admin.system.* other than users
	// and roles.
	Internal
	// UsersAndRoles: admin.system.users and admin.system.roles, replayed only
	// on request (--include-users): credentials are often managed separately.
	UsersAndRoles
	// Migration: a write a chunk migration made (fromMigrate: true). When one
	// shard's own data is restored it belongs to that shard and is applied;
	// when a whole cluster is the target, the donor's copy is applied through
	// its own oplog and these duplicates are skipped (--cluster-target).
	Migration
)

// Classify sorts a CRUD entry by namespace and flags. Commands are judged
// by the collection they act on, through the same function.
func Classify(op, db, coll string, fromMigrate bool) Kind {
	if op == "n" {
		return NoOp
	}
	switch {
	case db == "local":
		return Internal
	case db == "config":
		// None of config.* is user data. A cluster restore (sharded clusters)
		// restores config.databases, config.collections, config.chunks,
		// config.shards, config.version, config.settings and config.tags
		// from the config server's stream through its own path.
		return Internal
	case db == "admin" && (coll == "system.users" || coll == "system.roles"):
		return UsersAndRoles
	case strings.HasPrefix(coll, "system.") && !userSystemCollection(coll):
		return Internal
	}
	if fromMigrate {
		return Migration
	}
	return User
}

// userSystemCollection tells the system.* collections that hold user data:
// view definitions, stored JavaScript and timeseries buckets. Skipping
// buckets would restore every timeseries collection empty without an error.
func userSystemCollection(coll string) bool {
	return coll == "system.views" || coll == "system.js" || strings.HasPrefix(coll, "system.buckets.")
}
