package follow

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/replay"
)

// The journal makes a kill between any two writes harmless.
//
// Replay is idempotent over every state a document had, but a write is not
// always one step: on FerretDB the engine replaces a batch's documents with
// a deleteMany then an insertMany, and a process killed between the two
// leaves documents absent — a state they never had. A resumed replay then
// finds an update's document missing and cannot rebuild it.
//
// So before a cycle writes anything, the follower reads the target's
// current version of every document the cycle may write and commits those
// pre-images to its checkpoint; the commit of the cycle's position clears
// them in the same atomic write. A session that starts with pre-images in
// the checkpoint (the last cycle did not commit) first puts back each one
// whose document is absent from the target: every document is then at a
// version it had at or after the last commit, which is what re-reading from
// the resume point expects. A document the lost cycle deleted comes back,
// and is deleted again when its entry is applied again.
//
// The journal also records the newest entry the cycle applies (upTo),
// kept until a commit reaches it: a restart refuses a horizon before it
// (UnfinishedCycleError), as the target may hold writes up to there that
// no later apply can take back.

// maxInIDs bounds one $in list of pre-image reads.
const maxInIDs = 10000

// docRef is one target document a cycle may write.
type docRef struct {
	ns string // target namespace, after renames
	id bson.RawValue
}

// key tells documents apart by namespace and exact _id bytes.
func (d docRef) key() string {
	return d.ns + "\x00" + string(rune(d.id.Type)) + string(d.id.Value)
}

// preimage is a target document as it was before a cycle.
type preimage struct {
	NS  string
	Doc bson.Raw
}

// refs collects the target documents the given entries write: inserts,
// updates and deletes, and the operations inside applyOps (a transaction's
// too: its operations are written at its commit, possibly a later cycle,
// so the session keeps them until the resume point passes them).
func refs(entry bson.Raw, ns replay.Namespaces, add func(docRef)) {
	op, _ := entry.Lookup("op").StringValueOK()
	switch op {
	case "i", "d", "u":
		field := "o"
		if op == "u" {
			field = "o2"
		}
		id, err := entry.LookupErr(field, "_id")
		name, _ := entry.Lookup("ns").StringValueOK()
		if err != nil || name == "" {
			return
		}
		db, coll := replay.SplitNS(name)
		if !ns.Selected(db, coll) {
			return
		}
		tdb, tcoll := ns.Rename(db, coll)
		add(docRef{ns: tdb + "." + tcoll, id: id})
	case "c":
		ops, ok := entry.Lookup("o", "applyOps").ArrayOK()
		if !ok {
			return
		}
		vals, _ := ops.Values()
		for _, v := range vals {
			if doc, ok := v.DocumentOK(); ok {
				refs(doc, ns, add)
			}
		}
	}
}

// heldRef is a document of a transaction not applied yet, by the ts of the
// entry that named it.
type heldRef struct {
	ts  oplog.Timestamp
	ref docRef
}

// readPreimages reads the target's current version of every document refs
// name (absent ones have none).
func readPreimages(ctx context.Context, target *mongo.Client, docs []docRef) ([]preimage, error) {
	byNS := map[string]bson.A{}
	seen := map[string]bool{}
	for _, d := range docs {
		if k := d.key(); !seen[k] {
			seen[k] = true
			byNS[d.ns] = append(byNS[d.ns], d.id)
		}
	}
	names := make([]string, 0, len(byNS))
	for ns := range byNS {
		names = append(names, ns)
	}
	sort.Strings(names)
	var out []preimage
	for _, ns := range names {
		db, coll := replay.SplitNS(ns)
		ids := byNS[ns]
		for len(ids) > 0 {
			chunk := ids[:min(len(ids), maxInIDs)]
			ids = ids[len(chunk):]
			cur, err := target.Database(db).Collection(coll).Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: chunk}}}})
			if err != nil {
				return nil, fmt.Errorf("read the current versions of %s's documents about to be written: %w", ns, err)
			}
			for cur.Next(ctx) {
				out = append(out, preimage{NS: ns, Doc: append(bson.Raw(nil), cur.Current...)})
			}
			err = cur.Err()
			cur.Close(ctx)
			if err != nil {
				return nil, fmt.Errorf("read the current versions of %s's documents about to be written: %w", ns, err)
			}
		}
	}
	return out, nil
}

// repair puts back on the target every pre-image whose document is absent.
// It returns how many it put back, and the namespaces it left alone because
// the collection no longer exists: putting a document back would create
// it, and a resumed rename onto another collection (or a later create)
// would then act on those few documents instead of the collection. A cycle
// holds no namespace command besides its pre-images (boundary.go), so only
// a hand on the target drops such a collection; the log says so.
func repair(ctx context.Context, target *mongo.Client, pre []preimage) (int, []string, error) {
	n := 0
	exists := map[string]bool{}
	var gone []string
	for _, p := range pre {
		db, coll := replay.SplitNS(p.NS)
		there, checked := exists[p.NS]
		if !checked {
			names, err := target.Database(db).ListCollectionNames(ctx, bson.D{{Key: "name", Value: coll}})
			if err != nil {
				return n, gone, fmt.Errorf("put back %s's documents, left absent by a write cut short: check that the collection exists: %w", p.NS, err)
			}
			there = len(names) > 0
			exists[p.NS] = there
			if !there {
				gone = append(gone, p.NS)
			}
		}
		if !there {
			continue
		}
		_, err := target.Database(db).Collection(coll).InsertOne(ctx, p.Doc)
		switch {
		case err == nil:
			n++
		case isDuplicateKey(err):
			// Usually the document is present, at a version at or after the
			// last commit. But a unique secondary index also answers 11000:
			// then the document is still absent, and a resumed update of it
			// would fail or, worse, be skipped. Only the _id decides.
			id := p.Doc.Lookup("_id")
			found := target.Database(db).Collection(coll).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Err()
			if errors.Is(found, mongo.ErrNoDocuments) {
				return n, gone, fmt.Errorf("put back %s's document %s, left absent by a write cut short: a unique index holds another document with the same key (%w); remove or fix that document on the target, then start the follower again", p.NS, id, err)
			}
			if found != nil {
				return n, gone, fmt.Errorf("put back %s's document %s: check whether it is present: %w", p.NS, id, found)
			}
		default:
			return n, gone, fmt.Errorf("put back %s's document %s, left absent by a write cut short: %w", p.NS, p.Doc.Lookup("_id"), err)
		}
	}
	return n, gone, nil
}

func isDuplicateKey(err error) bool {
	var we mongo.WriteException
	if errors.As(err, &we) {
		for _, e := range we.WriteErrors {
			if e.Code == 11000 {
				return true
			}
		}
	}
	return mongo.IsDuplicateKeyError(err)
}
