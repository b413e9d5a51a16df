// Package load writes a base copy — collections with their documents,
// create options and indexes, such as a mongodump holds — into a target,
// fast, so that a replay of the oplog that follows the copy can continue it
// (replay.Replay with replay.Keep).
//
// A load runs in phases, and the order is the point:
//
//  1. Plan, without I/O on the target: which namespaces are user data
//     (replay.Classify: local, config and server-internal system.* are never
//     loaded; admin.system.users/roles only with IncludeUsers), which the
//     selection keeps and what they are renamed to.
//  2. Check the target: a namespace the load would write that already holds
//     documents (or is a view or timeseries collection) is refused with a
//     *ConflictError before any write, unless Drop is set.
//  3. Create every collection, view and timeseries collection with its
//     options, the ones a target is least likely to support first (views,
//     timeseries, collections with options), so that a target refusing a
//     feature fails before the first document is written, naming the
//     namespace and the feature (*UnsupportedError).
//  4. Insert the documents: unordered insertMany batches of up to 1,000
//     documents or 8 MiB, written by a pool of workers. Several collections
//     are read at once, and each reader keeps filling batches while earlier
//     ones are written; a capped collection is written in order, one batch at
//     a time, since its natural order and its size bound depend on the order.
//     Documents are inserted as they are, byte for byte, bypassing document
//     validation (the source already holds them).
//  5. Build the indexes, after the data: the rule replay follows (see
//     replay/indexes.go). Building on the final data is faster than keeping
//     indexes up to date during the inserts, and a unique index meets the
//     data only once it is complete.
//
// System collections: system.views is not loaded as documents. A view is
// created with create {viewOn, pipeline}, as mongorestore does from the
// view's metadata; documents of a dumped system.views whose view has no
// metadata of its own are turned into the same create. The data of a
// timeseries collection (system.buckets.<name>) goes into the buckets
// collection the timeseries create made. system.js is loaded like any
// collection.
package load
