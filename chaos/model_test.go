package chaos

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/internal/workload"
)

// keysPerNamespace bounds the key set: FerretDB on SQLite scans a whole
// collection for an update or delete by _id, so collections stay small and
// the writer's rate steady.
const keysPerNamespace = 64

// op is one kind of write.
type op byte

const (
	opInsert op = 'i'
	opUpdate op = 'u'
	opDelete op = 'd'
)

// write is one acknowledged write, in the order the writer made them. Seq
// is the write's number, stored as field v by inserts and updates, so that
// the oplog entry of each can be told apart from every other.
type write struct {
	Seq int64
	Op  op
	NS  string
	ID  int32
}

// model is what the source must hold: per namespace, per key, the document
// the writer last wrote. The writer changes it only after the server
// acknowledged the write.
type model struct {
	docs map[string]map[int32]bson.D
}

func newModel() *model {
	m := &model{docs: map[string]map[int32]bson.D{}}
	for _, ns := range workload.Namespaces {
		m.docs[ns] = map[int32]bson.D{}
	}
	return m
}

// change is a write and the document it leaves (nil for a delete), built
// before the write is sent and applied to the model once acknowledged.
type change struct {
	w      write
	doc    bson.D // the insert's or replacement's document, the update's result
	update bson.D // the update operators sent, for updates
}

// next draws a random write on the bounded key set. Every document has the
// same fields in the same order, and no write removes a field: FerretDB
// logs an update as a $set of the whole new document, from which a removed
// field could not be replayed.
func (m *model) next(rng *rand.Rand, seq int64) change {
	ns := workload.Namespaces[rng.IntN(len(workload.Namespaces))]
	id := int32(rng.IntN(keysPerNamespace))
	cur, exists := m.docs[ns][id]
	if !exists {
		return change{w: write{Seq: seq, Op: opInsert, NS: ns, ID: id}, doc: newDoc(rng, id, seq)}
	}
	switch r := rng.IntN(100); {
	case r < 50:
		inc := int32(1 + rng.IntN(9))
		s := fmt.Sprintf("u-%d", seq)
		x := rng.Float64()
		upd := bson.D{
			{Key: "$set", Value: bson.D{{Key: "v", Value: seq}, {Key: "s", Value: s}, {Key: "nested.x", Value: x}}},
			{Key: "$inc", Value: bson.D{{Key: "n", Value: inc}}},
		}
		doc := slices.Clone(cur)
		for i := range doc {
			switch doc[i].Key {
			case "v":
				doc[i].Value = seq
			case "s":
				doc[i].Value = s
			case "n":
				doc[i].Value = doc[i].Value.(int32) + inc
			case "nested":
				nested := slices.Clone(doc[i].Value.(bson.D))
				nested[0].Value = x
				doc[i].Value = nested
			}
		}
		return change{w: write{Seq: seq, Op: opUpdate, NS: ns, ID: id}, doc: doc, update: upd}
	case r < 68:
		return change{w: write{Seq: seq, Op: opUpdate, NS: ns, ID: id}, doc: newDoc(rng, id, seq)}
	default:
		return change{w: write{Seq: seq, Op: opDelete, NS: ns, ID: id}}
	}
}

func newDoc(rng *rand.Rand, id int32, seq int64) bson.D {
	return bson.D{
		{Key: "_id", Value: id},
		{Key: "v", Value: seq},
		{Key: "n", Value: rng.Int32N(1000)},
		{Key: "s", Value: fmt.Sprintf("doc-%d-%x", seq, rng.Uint32())},
		{Key: "nested", Value: bson.D{{Key: "x", Value: rng.Float64()}, {Key: "y", Value: strings.Repeat("y", 1+rng.IntN(40))}}},
	}
}

// apply records an acknowledged change.
func (m *model) apply(c change) {
	if c.w.Op == opDelete {
		delete(m.docs[c.w.NS], c.w.ID)
		return
	}
	m.docs[c.w.NS][c.w.ID] = c.doc
}

// state renders the model as workload.Dump renders a server: each
// namespace's documents in _id order, as extended JSON.
func (m *model) state() (workload.State, error) {
	s := workload.State{}
	for ns, docs := range m.docs {
		ids := make([]int32, 0, len(docs))
		for id := range docs {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		out := make([]string, 0, len(ids))
		for _, id := range ids {
			raw, err := bson.Marshal(docs[id])
			if err != nil {
				return nil, fmt.Errorf("model document %s %d: %w", ns, id, err)
			}
			out = append(out, bson.Raw(raw).String())
		}
		s[ns] = out
	}
	return s, nil
}
