// Package spool is a store.Store that fans one tailer's output out to several
// stores (for example S3 for point-in-time recovery and Kafka for a standby)
// through a bounded spool on local disk.
//
// Why: a tailer writing to several stores directly would go at the pace of
// the slowest, and stop when any one is down. The spool makes a put durable
// locally and returns; one publisher per destination then copies what was
// put, in the order it was put, with its own durable checkpoint, so a slow or
// dead destination delays only itself until the spool is full. Then PutSegment
// blocks (back-pressure on the tailer, which waits on the oplog) and never
// drops anything. A destination already down when the program starts is the
// same outage: its publisher opens it later (Dest.Open).
//
// Layout of the spool directory (docs/store-layout.md, "Fan-out through a
// spool"):
//
//	<dir>/tidelog-spool.json        marker {"format":"tidelog-spool","version":1}
//	<dir>/lock                      flock'ed by the process that has the spool open
//	<dir>/data/                     a dirstore holding the spooled segments' bytes
//	<dir>/queue/<seq>.entry         one per put, in put order (checksummed JSON)
//	<dir>/dests/<name>.ckpt         one destination's checkpoint (checksummed JSON)
//
// Every put gets the next sequence number; a destination's checkpoint is the
// highest sequence number it holds, so a put can never fall behind a
// destination's position and be skipped (a position by segment name could: a
// put sorting before it would never be sent). An entry leaves the spool once
// every destination's durable checkpoint covers it.
package spool
