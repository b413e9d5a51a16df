package txn

import (
	"slices"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// model is a toy target: collections of documents keyed by _id, enough to
// apply the fixtures' inserts, deletes, $set/$unset ($v:1) and top-level
// $v:2 diff updates and compare with their postimage. Commands and no-ops
// change nothing. Anything else fails the test rather than being guessed.
type model map[string]map[string]bson.D // ns -> _id (ext JSON) -> document

func (m model) apply(t testing.TB, op bson.Raw) {
	t.Helper()
	kind := op.Lookup("op").StringValue()
	ns, _ := op.Lookup("ns").StringValueOK()
	coll := m[ns]
	if coll == nil {
		coll = map[string]bson.D{}
		m[ns] = coll
	}
	switch kind {
	case "c", "n":
	case "i":
		doc := decode(t, op.Lookup("o").Document())
		coll[op.Lookup("o", "_id").String()] = doc
	case "d":
		delete(coll, op.Lookup("o", "_id").String())
	case "u":
		key := op.Lookup("o2", "_id").String()
		doc, ok := coll[key]
		if !ok {
			t.Fatalf("model: update of missing document %s in %s", key, ns)
		}
		coll[key] = update(t, doc, op.Lookup("o").Document())
	default:
		t.Fatalf("model: op %q", kind)
	}
}

func update(t testing.TB, doc bson.D, o bson.Raw) bson.D {
	t.Helper()
	if v, ok := lookup(o, "$v"); ok && v.AsInt64() == 2 {
		diff := o.Lookup("diff").Document()
		elems, _ := diff.Elements()
		for _, section := range elems {
			fields := decode(t, section.Value().Document())
			switch section.Key() {
			case "u", "i":
				for _, f := range fields {
					doc = set(doc, f.Key, f.Value)
				}
			case "d":
				for _, f := range fields {
					doc = unset(doc, f.Key)
				}
			default:
				t.Fatalf("model: diff section %q", section.Key())
			}
		}
		return doc
	}
	elems, _ := o.Elements()
	if len(elems) > 0 && strings.HasPrefix(elems[0].Key(), "$") {
		for _, e := range elems {
			switch e.Key() {
			case "$v":
			case "$set":
				for _, f := range decode(t, e.Value().Document()) {
					doc = set(doc, f.Key, f.Value)
				}
			case "$unset":
				for _, f := range decode(t, e.Value().Document()) {
					doc = unset(doc, f.Key)
				}
			default:
				t.Fatalf("model: modifier %q", e.Key())
			}
		}
		return doc
	}
	return decode(t, o) // replacement
}

func set(doc bson.D, key string, v any) bson.D {
	if strings.Contains(key, ".") {
		panic("model: dotted path " + key)
	}
	for i := range doc {
		if doc[i].Key == key {
			doc[i].Value = v
			return doc
		}
	}
	return append(doc, bson.E{Key: key, Value: v})
}

func unset(doc bson.D, key string) bson.D {
	return slices.DeleteFunc(doc, func(e bson.E) bool { return e.Key == key })
}

func decode(t testing.TB, raw bson.Raw) bson.D {
	t.Helper()
	var d bson.D
	if err := bson.Unmarshal(raw, &d); err != nil {
		t.Fatalf("model: %v", err)
	}
	return d
}

// state renders one collection as sorted canonical ext JSON documents, to be
// compared as a set with a postimage rendered the same way.
func (m model) state(t testing.TB, ns string) []string {
	t.Helper()
	var out []string
	for _, d := range m[ns] {
		out = append(out, canonical(t, d))
	}
	slices.Sort(out)
	return out
}

func canonical(t testing.TB, v any) string {
	t.Helper()
	b, err := bson.MarshalExtJSON(v, true, false)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
