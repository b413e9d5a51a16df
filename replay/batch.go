package replay

import (
	"context"
	"fmt"
	"hash/maphash"
	"sort"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/oplog"
)

// Batch limits. A batch is flushed when it holds this many entries or bytes,
// and at every barrier (command, transaction, end of replay).
// Large batches matter on FerretDB, which answers every _id $in query and
// deleteMany with a scan of the collection: the scans are paid per batch
// and namespace, so fewer, larger batches divide them.
const (
	maxBatchEntries = 50000
	maxBatchBytes   = 32 << 20
)

// crudOp is one insert, update or delete waiting in a batch. Its bytes live
// in the batch's arena.
type crudOp struct {
	op         byte   // 'i', 'u' or 'd'
	ns         string // target namespace (after renames)
	ts         oplog.Timestamp
	start, end int // the entry's bytes in the arena

	// Set at flush, once the arena no longer moves.
	entry bson.Raw
	id    bson.RawValue
}

// batch collects CRUD entries between barriers and writes them in parallel:
// entries are split into partitions by hash(namespace, _id), so all of one
// document's entries land in one partition, in oplog order, while different
// documents are written concurrently.
type batch struct {
	arena []byte
	ops   []crudOp
	seed  maphash.Seed
}

func newBatch() *batch {
	return &batch{arena: make([]byte, 0, 1<<20), seed: maphash.MakeSeed()}
}

func (b *batch) full() bool { return len(b.ops) >= maxBatchEntries || len(b.arena) >= maxBatchBytes }

func (b *batch) empty() bool { return len(b.ops) == 0 }

// add copies entry into the batch. The op refers to its bytes by offset,
// since appends may move the arena.
func (b *batch) add(op byte, ns string, ts oplog.Timestamp, entry bson.Raw) {
	start := len(b.arena)
	b.arena = append(b.arena, entry...)
	b.ops = append(b.ops, crudOp{op: op, ns: ns, ts: ts, start: start, end: len(b.arena)})
}

// flush writes every op and empties the batch. On error nothing tells which
// ops landed: the caller reports the last fully applied position, the end of
// the previous batch.
func (b *batch) flush(ctx context.Context, w *writer) error {
	if b.empty() {
		return nil
	}
	style, err := w.resolveStyle(ctx)
	if err != nil {
		return err
	}
	partitions := uint64(style.parallelism())
	parts := make([][]crudOp, partitions)
	var whole map[string]int
	var key []byte
	if style == styleDeleteInsert {
		whole = wholeNamespaces(b.ops, int(partitions))
	}
	for i := range b.ops {
		op := &b.ops[i]
		op.entry = bson.Raw(b.arena[op.start:op.end:op.end])
		id, err := docID(op.op, op.entry)
		if err != nil {
			return fmt.Errorf("%c %s at %s: %w", op.op, op.ns, op.ts, err)
		}
		op.id = id
		if p, ok := whole[op.ns]; ok {
			parts[p] = append(parts[p], *op)
			continue
		}
		var h maphash.Hash
		h.SetSeed(b.seed)
		h.WriteString(op.ns)
		key = appendIDKey(key[:0], id)
		h.Write(key)
		p := h.Sum64() % partitions
		parts[p] = append(parts[p], *op)
	}
	var wg sync.WaitGroup
	errs := make([]error, partitions)
	for p := range parts {
		if len(parts[p]) == 0 {
			continue
		}
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			errs[p] = w.writePartition(ctx, parts[p])
		}(p)
	}
	wg.Wait()
	b.arena, b.ops = b.arena[:0], b.ops[:0]
	for _, err := range errs {
		if err != nil {
			return err // the journal keeps what the cut write removed
		}
	}
	return w.clearJournal(ctx)
}

// wholeNamespaces assigns each namespace of ops to one partition, largest
// first onto the least loaded, when there are at least as many namespaces
// as partitions (nil otherwise: split by _id). For targets that scan a
// collection per query, a namespace split over two partitions is scanned
// twice as often.
func wholeNamespaces(ops []crudOp, partitions int) map[string]int {
	counts := map[string]int{}
	var names []string
	for i := range ops {
		if counts[ops[i].ns] == 0 {
			names = append(names, ops[i].ns)
		}
		counts[ops[i].ns]++
	}
	if len(names) < partitions {
		return nil
	}
	sort.SliceStable(names, func(i, j int) bool { return counts[names[i]] > counts[names[j]] })
	load := make([]int, partitions)
	out := make(map[string]int, len(names))
	for _, ns := range names {
		p := 0
		for q := range load {
			if load[q] < load[p] {
				p = q
			}
		}
		out[ns] = p
		load[p] += counts[ns]
	}
	return out
}

// docID finds the _id an entry acts on: o._id for inserts and deletes,
// o2._id for updates.
func docID(op byte, entry bson.Raw) (bson.RawValue, error) {
	field := "o"
	if op == 'u' {
		field = "o2"
	}
	v, err := entry.LookupErr(field, "_id")
	if err != nil {
		return bson.RawValue{}, fmt.Errorf("no %s._id", field)
	}
	return v, nil
}
