// Package kafkastore is a store.Store kept in Kafka, written with franz-go.
// The layout is described in docs/store-layout.md (section "Kafka"):
//
//	topic <prefix>.<stream>, exactly one partition, one per stream (replica set)
//	record = one frame: key "<kind>/<name>", headers say what it is, value = bytes
//
// One partition per stream makes the order of a replica set's records
// total, so frames of one object arrive in the order they were produced and
// "later" has one meaning; a topic per stream lets DeleteRecords free one
// stream's prefix without touching another's, and makes Streams a topic
// listing.
//
// Durability: every record is produced by an idempotent producer with
// acks=all, and a Put returns nil only after Kafka acknowledged every frame
// of it. The tailer moves its checkpoint only after PutSegment returns nil,
// so nothing is reported durable before Kafka holds it on every in-sync
// replica.
//
// Objects larger than one Kafka message are split into ordered frames; the
// last frame of a copy carries the frame count, total size and CRC-32C, so a
// reader installs a copy only when all of it is there. A producer that
// crashed mid-object leaves a torn prefix that is never listed; the retry
// writes a complete later copy, which is the one read. Kafka cannot delete
// one record: a delete writes a tombstone that hides the name, and when the
// dead records form a prefix of the log, DeleteRecords frees them.
//
// Listings are answered from an in-memory index built by reading the topic
// from its log start to its high watermark, refreshed incrementally from the
// last offset read; it is built from Kafka alone, so a fresh process (a
// restore) sees everything.
package kafkastore
