// Package follow keeps a target in near-real-time sync with one stream of a
// store: a standby (replayer follow).
//
// A Follower first brings an empty target to the newest restorable position
// exactly as a restore does (package restore: snapshot, verified segments,
// the same checks), then waits for the segments tailerd adds after the last
// one it applied. It checks each new segment's link to the one before it,
// verifies its checksums in full before handing out any of its entries,
// applies the entries through the replay engine (idempotent; transactions
// whole at their commit, also when they span segments) and, only once the
// target acknowledged the writes, commits its position to its own Pebble
// checkpoint. A process killed at any moment resumes from that checkpoint:
// it re-reads from the resume point (before every transaction still open),
// so the transaction buffer is rebuilt and what was written after the
// commit is written again, which replay makes harmless.
//
// The checkpoint's format, the restart rules and what stops a follower are
// described in docs/follow.md.
package follow
