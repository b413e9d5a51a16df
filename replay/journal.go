package replay

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// The journal makes a FerretDB replay cut between the two writes of a
// batch (a cancel, a lost connection, a kill) resumable.
//
// On FerretDB the writer replaces a batch's documents with a deleteMany
// then an insertMany (styleDeleteInsert). Cut between the two, documents
// are left absent — a state they never had — and a resumed replay finds
// the documents the batch only updated missing: it cannot rebuild them.
// So before it deletes, the writer copies the target's current version of
// every document it is about to delete that exists there (read anyway, to
// compute the updates) into a journal collection on the target, and drops
// the journal once the whole batch is written. A replay that resumes
// (Options.After) first puts back each journaled document that is absent:
// every document is then at a version it had at or after the resume point,
// which is all replaying from there needs. A replay that starts over
// discards the journal. MongoDB targets replace each document in one step
// and keep no journal.
//
// The journal lives in the target's local database, which replays leave
// out (Classify). One write's documents are stored as one byte stream, the
// BSON documents end to end, cut into parts of journalPartBytes: FerretDB
// inserts a few large rows some 25 times faster than a row per document,
// and no document is too large for it. Format: docs/replay.md.
const (
	journalDB         = "local"
	journalCollection = "tidelog.replay.journal"
	journalVersion    = 1
	journalPartBytes  = 8 << 20
)

var journalCRC = crc32.MakeTable(crc32.Castagnoli)

// journalPart is one part of one write's stream, as stored.
type journalPart struct {
	V     int32          `bson:"v"`
	After bson.Timestamp `bson:"after"` // the resume point a failure of the batch reports
	NS    string         `bson:"ns"`
	Write bson.ObjectID  `bson:"write"`
	Part  int32          `bson:"part"`
	Parts int32          `bson:"parts"`
	Docs  int32          `bson:"docs"` // documents in the whole write
	Data  []byte         `bson:"data"`
	Sum   int64          `bson:"sum"`  // CRC-32C of data
	HSum  int64          `bson:"hsum"` // CRC-32C of the other fields (headerSum)
}

// headerSum is the CRC-32C of the part's fields but data and the sums, so
// that damage to the resume point, the namespace or the part numbering is
// caught where headers are read without the data (summarizeJournal).
func (p *journalPart) headerSum() int64 {
	b := binary.BigEndian.AppendUint32(nil, uint32(p.V))
	b = binary.BigEndian.AppendUint32(b, p.After.T)
	b = binary.BigEndian.AppendUint32(b, p.After.I)
	b = binary.BigEndian.AppendUint32(b, uint32(len(p.NS)))
	b = append(b, p.NS...)
	b = append(b, p.Write[:]...)
	for _, v := range []int32{p.Part, p.Parts, p.Docs} {
		b = binary.BigEndian.AppendUint32(b, uint32(v))
	}
	return int64(crc32.Checksum(b, journalCRC))
}

func journalColl(client *mongo.Client) *mongo.Collection {
	return client.Database(journalDB).Collection(journalCollection)
}

// journalPreimages stores the pre-images of the documents of ns the write
// is about to delete that exist on the target.
func (w *writer) journalPreimages(ctx context.Context, ns string, docs []*docState) error {
	if w.noJournal {
		return nil
	}
	var stream []byte
	n := 0
	for _, st := range docs {
		if st.changed && st.pre != nil {
			stream = append(stream, st.pre...)
			n++
		}
	}
	if n == 0 {
		return nil
	}
	parts := (len(stream) + journalPartBytes - 1) / journalPartBytes
	write := bson.NewObjectID()
	entries := make([]any, 0, parts)
	for i := range parts {
		data := stream[i*journalPartBytes : min((i+1)*journalPartBytes, len(stream))]
		p := journalPart{V: journalVersion, After: w.after.BSON(), NS: ns, Write: write,
			Part: int32(i), Parts: int32(parts), Docs: int32(n), Data: data, Sum: int64(crc32.Checksum(data, journalCRC))}
		p.HSum = p.headerSum()
		entries = append(entries, p)
	}
	w.journaled.Store(true)
	if _, err := journalColl(w.client).InsertMany(ctx, entries, options.InsertMany().SetOrdered(false)); err != nil {
		return fmt.Errorf("journal the current versions of %d documents of %s in %s.%s before replacing them: %w",
			n, ns, journalDB, journalCollection, err)
	}
	return nil
}

// clearJournal drops the journal once a batch is wholly written. One
// replay writes a target at a time (a cluster restore refuses two streams
// onto one), so the journal is all its own.
func (w *writer) clearJournal(ctx context.Context) error {
	if !w.journaled.Load() {
		return nil
	}
	if err := dropJournal(ctx, journalColl(w.client), "after a written batch"); err != nil {
		return err
	}
	w.journaled.Store(false)
	return nil
}

func dropJournal(ctx context.Context, coll *mongo.Collection, when string) error {
	if err := coll.Drop(ctx); err != nil {
		return fmt.Errorf("drop the replay journal %s.%s %s: %w", journalDB, journalCollection, when, err)
	}
	return nil
}
