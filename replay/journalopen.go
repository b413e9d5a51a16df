package replay

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"sort"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tidelog/tidelog/oplog"
)

// JournalAheadError refuses to resume a replay after a later position than
// the one a replay cut short on the same target reported: the documents
// that replay removed would come back at versions older than the resume
// point, and the entries in between would never reach them.
type JournalAheadError struct {
	After    oplog.Timestamp // the resume point asked for
	Reported oplog.Timestamp // the one the cut replay reported (the earliest, if several)
	Docs     int
}

func (e *JournalAheadError) Error() string {
	advice := fmt.Sprintf("resume with --after %s (the resume point it reported)", e.Reported)
	if e.Reported.IsZero() {
		advice = "start over with --drop (it had applied nothing yet)"
	}
	return fmt.Sprintf("the target holds %d documents that a replay cut short had removed in the middle of a write, journaled in %s.%s; "+
		"that replay stopped at resume point %s, but this one resumes after %s, so the entries in between would never reach them. "+
		"Nothing was written: %s", e.Docs, journalDB, journalCollection, e.Reported, e.After, advice)
}

// openJournal acts on a journal left by a replay cut short, before this
// replay's first write: a resumed replay (after set) puts back the
// journaled documents that are absent, one that starts over discards it,
// whatever it holds.
func (w *writer) openJournal(ctx context.Context, after oplog.Timestamp) error {
	style, err := w.resolveStyle(ctx)
	if err != nil || style != styleDeleteInsert || w.noJournal {
		return err
	}
	coll := journalColl(w.client)
	sum, err := summarizeJournal(ctx, coll)
	var unusable *journalError
	switch {
	case after.IsZero() && errors.As(err, &unusable):
		if err := dropJournal(ctx, coll, "to start over"); err != nil {
			return err
		}
		w.log.Warn().Err(err).Msg("the target holds a replay journal this replayer cannot read; this replay starts over, so the journal is discarded")
		return nil
	case err != nil || sum.writes == 0:
		return err
	case after.IsZero() || len(sum.complete) == 0:
		// Starting over, or only writes cut before their delete: nothing
		// of theirs is absent.
		if err := dropJournal(ctx, coll, "to start over"); err != nil {
			return err
		}
		if len(sum.complete) > 0 {
			w.log.Warn().Int("documents", sum.docs).Strs("namespaces", sum.namespaces()).Stringer("resume_point", sum.earliest).
				Msg("the target holds the journal of a replay cut short in the middle of a write; this replay starts over, so the journal is discarded: that replay can no longer be resumed exactly (restore its namespaces again with --drop)")
		}
		return nil
	case after.After(sum.earliest):
		return &JournalAheadError{After: after, Reported: sum.earliest, Docs: sum.docs}
	}
	put := 0
	exists := map[string]bool{}
	for _, write := range sum.complete {
		ok, seen := exists[write.ns]
		if !seen {
			db, name := SplitNS(write.ns)
			if ok, err = collectionExists(ctx, w.client, db, name); err != nil {
				return err
			}
			exists[write.ns] = ok
		}
		if !ok {
			// Putting them back would create it: the collection was dropped
			// after the cut, which no replay did.
			w.log.Warn().Str("ns", write.ns).Int32("documents", write.docs).
				Msg("a journaled write's collection no longer exists on the target: its documents are not put back")
			continue
		}
		n, err := putBack(ctx, w.client, coll, write)
		put += n
		if err != nil {
			return err
		}
	}
	if err := dropJournal(ctx, coll, "after putting its documents back"); err != nil {
		return err
	}
	w.log.Warn().Int("documents", sum.docs).Int("put_back", put).Strs("namespaces", sum.namespaces()).
		Msg("the replay being resumed was cut short in the middle of a write: put back the documents it had removed; applying again from the resume point")
	return nil
}

// journalSummary is what a first read of the journal's headers tells,
// before anything is written.
type journalSummary struct {
	writes   int             // writes with at least one part
	complete []*journalWrite // writes with every part: their delete may have run
	docs     int             // documents of the complete writes
	earliest oplog.Timestamp // smallest resume point of the complete writes
	nss      map[string]bool
}

// journalWrite is one write's header, which each of its parts repeats.
type journalWrite struct {
	id    bson.ObjectID
	ns    string
	after bson.Timestamp
	parts int32
	docs  int32
	seen  map[int32]bool // parts read
}

func (s journalSummary) namespaces() []string {
	out := make([]string, 0, len(s.nss))
	for ns := range s.nss {
		out = append(out, ns)
	}
	sort.Strings(out)
	return out
}

// summarizeJournal reads every part's header (not its data), refusing
// parts of a format it does not know and parts that cannot belong to the
// write they name. A write whose parts are not all there was cut while
// being journaled, before its delete.
func summarizeJournal(ctx context.Context, coll *mongo.Collection) (journalSummary, error) {
	sum := journalSummary{nss: map[string]bool{}}
	cur, err := coll.Find(ctx, bson.D{}, options.Find().SetProjection(bson.D{{Key: "data", Value: 0}}))
	if err != nil {
		return sum, fmt.Errorf("read the replay journal %s.%s: %w", journalDB, journalCollection, err)
	}
	defer cur.Close(ctx)
	writes := map[bson.ObjectID]*journalWrite{}
	for cur.Next(ctx) {
		var p journalPart
		id := cur.Current.Lookup("_id")
		if err := cur.Decode(&p); err != nil {
			return sum, journalDamaged(id, err)
		}
		if p.V != journalVersion {
			return sum, &journalError{fmt.Sprintf("replay journal %s.%s: part %s has format version %d, this replayer knows %d: resume with the tidelog version that wrote it",
				journalDB, journalCollection, id, p.V, journalVersion)}
		}
		if p.headerSum() != p.HSum {
			return sum, journalDamaged(id, errors.New("header checksum mismatch"))
		}
		w := writes[p.Write]
		if w == nil {
			w = &journalWrite{id: p.Write, ns: p.NS, after: p.After, parts: p.Parts, docs: p.Docs, seen: map[int32]bool{}}
			writes[p.Write] = w
		}
		switch {
		case p.Parts < 1 || p.Part < 0 || p.Part >= p.Parts || p.Docs < 1:
			return sum, journalDamaged(id, fmt.Errorf("part %d of %d, of %d documents", p.Part, p.Parts, p.Docs))
		case p.NS != w.ns || p.After != w.after || p.Parts != w.parts || p.Docs != w.docs:
			return sum, journalDamaged(id, fmt.Errorf("its header differs from another part's of write %s", p.Write.Hex()))
		case w.seen[p.Part]:
			return sum, journalDamaged(id, fmt.Errorf("part %d of write %s is there twice", p.Part, p.Write.Hex()))
		}
		w.seen[p.Part] = true
	}
	if err := cur.Err(); err != nil {
		return sum, fmt.Errorf("read the replay journal %s.%s: %w", journalDB, journalCollection, err)
	}
	sum.writes = len(writes)
	for _, w := range writes {
		if int32(len(w.seen)) != w.parts {
			continue
		}
		ts := oplog.Timestamp{T: w.after.T, I: w.after.I}
		if len(sum.complete) == 0 || ts.Before(sum.earliest) {
			sum.earliest = ts
		}
		sum.complete = append(sum.complete, w)
		sum.docs += int(w.docs)
		sum.nss[w.ns] = true
	}
	sort.Slice(sum.complete, func(i, j int) bool { return sum.complete[i].id.Hex() < sum.complete[j].id.Hex() })
	return sum, nil
}

// journalError is a journal this replayer cannot use: damaged, or of
// another format version. A resume stops at it; a replay that starts over
// discards it.
type journalError struct{ msg string }

func (e *journalError) Error() string { return e.msg }

func journalDamaged(what any, err error) error {
	return &journalError{fmt.Sprintf("replay journal %s.%s: %v is damaged (%v): the documents a replay cut short removed cannot be put back; restore again with --drop",
		journalDB, journalCollection, what, err)}
}

// putBack inserts each document of one journaled write whose _id is absent
// from its namespace and reports how many it inserted. A present document
// is left as it is: it holds a version at or after the journaled one.
func putBack(ctx context.Context, client *mongo.Client, coll *mongo.Collection, write *journalWrite) (int, error) {
	cur, err := coll.Find(ctx, bson.D{{Key: "write", Value: write.id}}, options.Find().SetSort(bson.D{{Key: "part", Value: 1}}))
	if err != nil {
		return 0, fmt.Errorf("read the replay journal %s.%s: %w", journalDB, journalCollection, err)
	}
	defer cur.Close(ctx)
	what := "write " + write.id.Hex()
	var carry []byte
	var pending []any
	put, docs := 0, 0
	for next := int32(0); cur.Next(ctx); next++ {
		var p journalPart
		if err := cur.Decode(&p); err != nil {
			return put, journalDamaged(what, err)
		}
		switch {
		case p.Part != next:
			return put, journalDamaged(what, fmt.Errorf("part %d where %d was expected", p.Part, next))
		case int64(crc32.Checksum(p.Data, journalCRC)) != p.Sum || p.headerSum() != p.HSum:
			return put, journalDamaged(what, fmt.Errorf("part %d: checksum mismatch", p.Part))
		}
		buf := append(carry, p.Data...)
		for len(buf) >= 4 {
			size := int(binary.LittleEndian.Uint32(buf))
			if size < 5 || size > len(buf) {
				break
			}
			doc := bson.Raw(buf[:size:size])
			if _, err := doc.LookupErr("_id"); err != nil {
				return put, journalDamaged(what, fmt.Errorf("document %d has no _id", docs))
			}
			pending = append(pending, doc)
			docs++
			buf = buf[size:]
			if len(pending) == maxRunDocs {
				n, err := insertAbsent(ctx, client, write.ns, pending)
				put += n
				if err != nil {
					return put, err
				}
				pending = nil
			}
		}
		carry = append([]byte(nil), buf...)
	}
	if err := cur.Err(); err != nil {
		return put, fmt.Errorf("read the replay journal %s.%s: %w", journalDB, journalCollection, err)
	}
	if len(carry) > 0 || docs != int(write.docs) {
		return put, journalDamaged(what, fmt.Errorf("its data holds %d whole documents and %d bytes more, where %d documents were written", docs, len(carry), write.docs))
	}
	n, err := insertAbsent(ctx, client, write.ns, pending)
	return put + n, err
}

// collectionExists tells whether db.coll exists on the target.
func collectionExists(ctx context.Context, client *mongo.Client, db, coll string) (bool, error) {
	names, err := client.Database(db).ListCollectionNames(ctx, bson.D{{Key: "name", Value: coll}})
	if err != nil {
		return false, fmt.Errorf("list collections of %s on the target: %w", db, err)
	}
	return len(names) > 0, nil
}

// insertAbsent inserts docs into ns, leaving those whose _id is present
// (a duplicate key) as they are.
func insertAbsent(ctx context.Context, client *mongo.Client, ns string, docs []any) (int, error) {
	if len(docs) == 0 {
		return 0, nil
	}
	db, name := SplitNS(ns)
	_, err := client.Database(db).Collection(name).InsertMany(ctx, docs, options.InsertMany().SetOrdered(false).SetBypassDocumentValidation(true))
	if err == nil {
		return len(docs), nil
	}
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || bwe.WriteConcernError != nil {
		return 0, fmt.Errorf("put back the journaled documents of %s: %w", ns, err)
	}
	for _, we := range bwe.WriteErrors {
		if we.Code != 11000 {
			return 0, fmt.Errorf("put back the journaled documents of %s: %w", ns, err)
		}
	}
	return len(docs) - len(bwe.WriteErrors), nil
}
