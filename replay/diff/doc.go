// Package diff applies MongoDB's $v:2 delta updates ("diffs") to raw BSON
// documents, as a pure function with the server's exact semantics.
//
// Since MongoDB 5.0 an update oplog entry usually carries
// o = {$v: 2, diff: <document diff>} instead of the whole new document.
// Replaying such an entry needs the pre-image (the document as it was) and
// produces the post-image. Because a restore replays an oplog window over a
// dump taken during that window, an entry may be applied to a document that
// already reflects it, or even later changes; MongoDB's applier is built to
// be idempotent and to tolerate that, and so is this one.
//
// # Diff format
//
// A document diff is a BSON document with these optional fields, in this
// order (MongoDB rejects any other order):
//
//	d: {<field>: false, ...}        delete fields
//	u: {<field>: <value>, ...}      update (set) fields
//	i: {<field>: <value>, ...}      insert fields
//	b: {<field>: {o: <int>, d: <binData>}, ...}
//	                                binary splice into binData fields (8.0+)
//	s<field>: <sub-diff>            one per modified sub-document or array
//
// A sub-diff whose first field is "a" is an array diff, otherwise a
// document diff. The key "s" alone names the field "". An array diff is
//
//	{a: true, l: <int32>?, u<N>: <value>, s<N>: <sub-diff>, ...}
//
// with "l" the new array length and N ascending array positions. A field
// may appear only once across all sections of one document diff, and no
// diff or sub-diff may be empty.
//
// # Semantics
//
// See Apply, applyDocument (field order), array.go (arrays) and
// binary.go (binary splices). In short: updates keep the field's position,
// inserts and updates of missing fields append in diff order, inserting an
// existing field moves it to the end, a sub-diff whose target has the
// wrong type turns it into null in place, and array diffs pad with nulls.
//
// # Where this is stricter than MongoDB
//
// Only for diffs no server writes; each such diff is an error here:
// section keys longer than one character that start with d/u/i/b (MongoDB
// looks at the first character only); array positions with leading zeros,
// out of order or repeated (MongoDB loops forever); positions at or past
// "l" (an invariant failure in MongoDB); negative "l"; malformed parts of a
// diff that MongoDB would never look at because the pre-image lacks the
// field (the whole diff is validated first, so validity never depends on
// the document). Post-images over MaxDocumentSize and nesting beyond
// MaxDepth are refused, and pre-images must be well-formed BSON.
package diff
