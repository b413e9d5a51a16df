// Package dump reads mongodump output: directory dumps (<db>/<coll>.bson,
// <db>/<coll>.metadata.json, their .gz variants, and oplog.bson) and
// --archive files (optionally gzip-compressed).
//
// Both readers stream: they hold one document at a time, so memory stays
// bounded by the largest document (at most MaxDocumentBytes) however large
// the dump. They expose everything the dump holds, in file order, and skip
// nothing: deciding what is user data (admin.system.*, config.*, local.*,
// the oplog) is the caller's job.
//
// Every error that comes from the dump's content is a *ReadError naming the
// file and the byte offset (in the decompressed stream) of the item that
// could not be read, so damage can be located.
package dump
