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
// journaled documents that are absent, one that starts over discards it.
func (w *writer) openJournal(ctx context.Context, after oplog.Timestamp) error {
	if w.resolveStyle(ctx) != styleDeleteInsert || w.noJournal {
		return nil
	}
	coll := journalColl(w.client)
	sum, err := summarizeJournal(ctx, coll)
	if err != nil || len(sum.parts) == 0 {
		return err
	}
	if after.IsZero() || len(sum.complete) == 0 {
		// Starting over, or only writes cut before their delete: nothing
		// of theirs is absent.
		if err := coll.Drop(ctx); err != nil {
			return fmt.Errorf("discard the replay journal %s.%s: %w", journalDB, journalCollection, err)
		}
		if len(sum.complete) > 0 {
			w.log.Warn().Int("documents", sum.docs).Strs("namespaces", sum.namespaces()).Stringer("resume_point", sum.earliest).
				Msg("the target holds the journal of a replay cut short in the middle of a write; this replay starts over, so the journal is discarded: that replay can no longer be resumed exactly (restore its namespaces again with --drop)")
		}
		return nil
	}
	if after.After(sum.earliest) {
		return &JournalAheadError{After: after, Reported: sum.earliest, Docs: sum.docs}
	}
	put := 0
	exists := map[string]bool{}
	for _, write := range sum.complete {
		ok, seen := exists[write.ns]
		if !seen {
			if ok, err = collectionExists(ctx, w.client, write.ns); err != nil {
				return err
			}
			exists[write.ns] = ok
		}
		if !ok {
			// Putting them back would create it: the collection was dropped
			// after the cut, which no replay did.
			w.log.Warn().Str("ns", write.ns).Int("documents", write.docs).
				Msg("a journaled write's collection no longer exists on the target: its documents are not put back")
			continue
		}
		n, err := putBack(ctx, w.client, coll, write.id)
		put += n
		if err != nil {
			return err
		}
	}
	if err := coll.Drop(ctx); err != nil {
		return fmt.Errorf("drop the replay journal %s.%s after putting its documents back: %w", journalDB, journalCollection, err)
	}
	w.log.Warn().Int("documents", sum.docs).Int("put_back", put).Strs("namespaces", sum.namespaces()).
		Msg("the replay being resumed was cut short in the middle of a write: put back the documents it had removed; applying again from the resume point")
	return nil
}

// journalSummary is what a first read of the journal's headers tells,
// before anything is written.
type journalSummary struct {
	parts    map[bson.ObjectID]map[int32]bool // parts seen, by write
	complete []journalWrite                   // writes with every part: their delete may have run
	docs     int                              // documents of the complete writes
	earliest oplog.Timestamp                  // smallest resume point of the complete writes
	nss      map[string]bool
}

type journalWrite struct {
	id   bson.ObjectID
	ns   string
	docs int
}

func (s journalSummary) namespaces() []string {
	out := make([]string, 0, len(s.nss))
	for ns := range s.nss {
		out = append(out, ns)
	}
	sort.Strings(out)
	return out
}

// summarizeJournal reads every part's header (not its data) and refuses
// parts of a format it does not know. A write whose parts are not all
// there was cut while being journaled, before its delete.
func summarizeJournal(ctx context.Context, coll *mongo.Collection) (journalSummary, error) {
	sum := journalSummary{parts: map[bson.ObjectID]map[int32]bool{}, nss: map[string]bool{}}
	cur, err := coll.Find(ctx, bson.D{}, options.Find().SetProjection(bson.D{{Key: "data", Value: 0}}))
	if err != nil {
		return sum, fmt.Errorf("read the replay journal %s.%s: %w", journalDB, journalCollection, err)
	}
	defer cur.Close(ctx)
	head := map[bson.ObjectID]journalPart{}
	for cur.Next(ctx) {
		var p journalPart
		if err := cur.Decode(&p); err != nil {
			return sum, journalDamaged(cur.Current.Lookup("_id"), err)
		}
		if p.V != journalVersion {
			return sum, fmt.Errorf("replay journal %s.%s: part %s has format version %d, this replayer knows %d: resume with the tidelog version that wrote it",
				journalDB, journalCollection, cur.Current.Lookup("_id"), p.V, journalVersion)
		}
		if sum.parts[p.Write] == nil {
			sum.parts[p.Write] = map[int32]bool{}
		}
		sum.parts[p.Write][p.Part] = true
		head[p.Write] = p
	}
	if err := cur.Err(); err != nil {
		return sum, fmt.Errorf("read the replay journal %s.%s: %w", journalDB, journalCollection, err)
	}
	for write, seen := range sum.parts {
		p := head[write]
		if int32(len(seen)) != p.Parts {
			continue
		}
		ts := oplog.Timestamp{T: p.After.T, I: p.After.I}
		if len(sum.complete) == 0 || ts.Before(sum.earliest) {
			sum.earliest = ts
		}
		sum.complete = append(sum.complete, journalWrite{id: write, ns: p.NS, docs: int(p.Docs)})
		sum.docs += int(p.Docs)
		sum.nss[p.NS] = true
	}
	sort.Slice(sum.complete, func(i, j int) bool { return sum.complete[i].id.Hex() < sum.complete[j].id.Hex() })
	return sum, nil
}

func journalDamaged(what any, err error) error {
	return fmt.Errorf("replay journal %s.%s: %v is damaged (%w): the documents a replay cut short removed cannot be put back; restore again with --drop",
		journalDB, journalCollection, what, err)
}

// putBack inserts each document of one journaled write whose _id is absent
// from its namespace and reports how many it inserted. A present document
// is left as it is: it holds a version at or after the journaled one.
func putBack(ctx context.Context, client *mongo.Client, coll *mongo.Collection, write bson.ObjectID) (int, error) {
	cur, err := coll.Find(ctx, bson.D{{Key: "write", Value: write}}, options.Find().SetSort(bson.D{{Key: "part", Value: 1}}))
	if err != nil {
		return 0, fmt.Errorf("read the replay journal %s.%s: %w", journalDB, journalCollection, err)
	}
	defer cur.Close(ctx)
	what := "write " + write.Hex()
	var ns string
	var carry []byte
	var pending []any
	put, docs, want := 0, 0, int32(0)
	for next := int32(0); cur.Next(ctx); next++ {
		var p journalPart
		if err := cur.Decode(&p); err != nil {
			return put, journalDamaged(what, err)
		}
		switch {
		case p.Part != next:
			return put, journalDamaged(what, fmt.Errorf("part %d where %d was expected", p.Part, next))
		case int64(crc32.Checksum(p.Data, journalCRC)) != p.Sum:
			return put, journalDamaged(what, fmt.Errorf("part %d: checksum mismatch", p.Part))
		}
		ns, want = p.NS, p.Docs
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
				n, err := insertAbsent(ctx, client, ns, pending)
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
	if len(carry) > 0 || docs != int(want) {
		return put, journalDamaged(what, fmt.Errorf("its data holds %d whole documents and %d bytes more, where %d documents were written", docs, len(carry), want))
	}
	n, err := insertAbsent(ctx, client, ns, pending)
	return put + n, err
}

func collectionExists(ctx context.Context, client *mongo.Client, ns string) (bool, error) {
	db, name := SplitNS(ns)
	names, err := client.Database(db).ListCollectionNames(ctx, bson.D{{Key: "name", Value: name}})
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
