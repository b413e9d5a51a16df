package load

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Batch limits: one insertMany carries at most this many documents or bytes
// (a single larger document goes alone), well under a server's 100,000
// statements and 48 MB per message, and small enough that Workers batches in
// flight, plus one being filled per reader, bound the memory a load holds.
const (
	maxBatchDocs  = 1000
	maxBatchBytes = 8 << 20
)

// batch is one insertMany's documents, copied out of the source's buffers.
type batch struct {
	j     *job
	coll  *mongo.Collection
	docs  []any // bson.Raw
	bytes int
}

// inserter runs the insert phase: Workers readers take whole jobs (a
// Docs stream is sequential) and fill batches; Workers writers insert them.
// A reader hands a batch over and fills the next one while it is written, so
// reading and writing overlap within a collection as well as across them.
type inserter struct {
	client   *mongo.Client
	workers  int
	progress func(ns string, docs int64)
	log      zerolog.Logger

	docs, bytes atomic.Int64
	progressMu  sync.Mutex     // serializes progress calls and guards perNS
	perNS       map[*job]int64 // documents in, per job
}

type insertStats struct{ docs, bytes int64 }

// insertAll inserts the documents of every job. The first failure cancels
// the rest and is returned.
func insertAll(ctx context.Context, client *mongo.Client, p *plan, opts Options, log zerolog.Logger) (insertStats, error) {
	in := &inserter{client: client, workers: opts.Workers, progress: opts.Progress, log: log, perNS: map[*job]int64{}}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	work := make(chan *batch, in.workers)
	var writers sync.WaitGroup
	for range in.workers {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for b := range work {
				if ctx.Err() != nil {
					continue // drain: the load is failing
				}
				if err := in.write(ctx, b, false); err != nil {
					cancel(err)
				}
			}
		}()
	}
	jobs := make(chan *job)
	var readers sync.WaitGroup
	for range in.workers {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for j := range jobs {
				if err := in.read(ctx, j, work); err != nil {
					cancel(err)
				}
			}
		}()
	}
feed:
	for _, j := range p.jobs {
		if len(j.docs) == 0 {
			continue
		}
		select {
		case jobs <- j:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	readers.Wait()
	close(work)
	writers.Wait()
	st := insertStats{docs: in.docs.Load(), bytes: in.bytes.Load()}
	if ctx.Err() != nil {
		return st, context.Cause(ctx)
	}
	return st, nil
}

// read streams one job's documents into batches. A capped collection's
// batches are written here, in order and ordered: its natural order and
// what its size bound keeps depend on the insertion order.
func (in *inserter) read(ctx context.Context, j *job, work chan<- *batch) error {
	coll := in.client.Database(j.db).Collection(j.dataName)
	b := &batch{j: j, coll: coll}
	flush := func() error {
		if len(b.docs) == 0 {
			return nil
		}
		full := b
		b = &batch{j: j, coll: coll, docs: make([]any, 0, len(full.docs))}
		if j.capped {
			return in.write(ctx, full, true)
		}
		select {
		case work <- full:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	for _, docs := range j.docs {
		err := docs(ctx, func(doc bson.Raw) error {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			if len(b.docs) > 0 && (len(b.docs) >= maxBatchDocs || b.bytes+len(doc) > maxBatchBytes) {
				if err := flush(); err != nil {
					return err
				}
			}
			b.docs = append(b.docs, bson.Raw(append([]byte(nil), doc...)))
			b.bytes += len(doc)
			return nil
		})
		if err != nil {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			return nsError(j.dataNS(), "read the source's documents (from "+j.srcNS+")", err)
		}
	}
	return flush()
}

// write inserts one batch, bypassing document validation: the documents
// are the source's, valid or not under its rules when they were written.
func (in *inserter) write(ctx context.Context, b *batch, ordered bool) error {
	opts := options.InsertMany().SetOrdered(ordered).SetBypassDocumentValidation(true)
	if _, err := b.coll.InsertMany(ctx, b.docs, opts); err != nil {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return nsError(b.j.dataNS(), fmt.Sprintf("insert %d documents", len(b.docs)), withFailedID(b, err))
	}
	in.docs.Add(int64(len(b.docs)))
	in.bytes.Add(int64(b.bytes))
	in.progressMu.Lock()
	defer in.progressMu.Unlock()
	in.perNS[b.j] += int64(len(b.docs))
	if in.progress != nil {
		in.progress(b.j.dataNS(), in.perNS[b.j]) // under the lock: counts only grow
	}
	return nil
}

// withFailedID adds the _id of the first document the target refused.
func withFailedID(b *batch, err error) error {
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || len(bwe.WriteErrors) == 0 {
		return err
	}
	first := bwe.WriteErrors[0]
	if first.Index < 0 || first.Index >= len(b.docs) {
		return err
	}
	id := b.docs[first.Index].(bson.Raw).Lookup("_id")
	show := id.String()
	if doc, merr := bson.Marshal(bson.D{{Key: "_id", Value: id}}); merr == nil {
		if js, jerr := bson.MarshalExtJSON(bson.Raw(doc), false, false); jerr == nil {
			show = string(js) // relaxed: {"_id":1234} rather than {"$numberInt":"1234"}
		}
	}
	return fmt.Errorf("%d refused, the first %s: %w", len(bwe.WriteErrors), show, err)
}
