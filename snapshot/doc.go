// Package snapshot takes and reads base snapshots: logical copies of every
// user collection of one replica set, stored beside the stream's oplog
// segments, so that a restore can start from a recent copy instead of from the
// beginning of capture.
//
// A snapshot is taken while writes continue, so it is not a picture of one
// instant. It is consistent at its End position once the oplog entries with
// ts >= Start are replayed over it up to at least End: every write the copy
// missed, or saw only half of, has an oplog entry at or after Start, and
// replay is idempotent, so replaying an entry whose effect the copy already
// holds is harmless. The format is specified in docs/snapshot-format.md.
//
// A snapshot is complete only once its manifest is stored, and the manifest
// is written last: a crash at any point leaves either a complete snapshot or
// a directory without a valid manifest, which List reports as incomplete and
// which nothing restores from.
package snapshot
