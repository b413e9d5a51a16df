package snapshot

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// A collection bigger than SplitDocs is copied as several _id ranges whose
// union is exactly the collection; one whose _ids mix BSON types is copied
// whole, since type-bracketed range queries would miss some of them.
func TestSplit(t *testing.T) {
	ctx := testCtx(t)
	e := newEnv(t)
	seq(t, ctx, e.client, "d.ints", 0, 1000)
	var mixed, oids, strs []any
	for i := range 300 {
		mixed = append(mixed, testDoc(int32(i), i), testDoc(fmt.Sprintf("s%04d", i), i))
	}
	for i := range 250 {
		oids = append(oids, testDoc(bson.NewObjectID(), i))
		strs = append(strs, testDoc(fmt.Sprintf("key-%05d", 7*i%250), i))
	}
	insertDocs(t, ctx, e.client, "d.mixed", mixed)
	insertDocs(t, ctx, e.client, "d.oids", oids)
	insertDocs(t, ctx, e.client, "d.strings", strs)
	seq(t, ctx, e.client, "d.small", 0, 100)
	// A capped collection keeps insertion order, which a restore must
	// reproduce: _id ranges would load it in _id order.
	if err := e.client.Database("d").CreateCollection(ctx, "capped", options.CreateCollection().SetCapped(true).SetSizeInBytes(1<<20)); err != nil {
		t.Fatal(err)
	}
	seq(t, ctx, e.client, "d.capped", 0, 300)

	m, err := Take(ctx, e.client, e.st, Options{Workers: 3, SplitDocs: 100}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	wantFiles := map[string]int{"d.ints": 10, "d.mixed": 1, "d.oids": 3, "d.strings": 3, "d.small": 1, "d.capped": 1}
	for ns, want := range wantFiles {
		c, ok := m.Collection(ns)
		if !ok {
			t.Fatalf("snapshot has no %s", ns)
		}
		if len(c.Files) != want {
			t.Errorf("%s in %d files, want %d", ns, len(c.Files), want)
		}
		src := sourceDocs(t, ctx, e.client, ns)
		got := snapDocs(t, ctx, e, m, ns) // fails on an _id in two files
		if !maps.EqualFunc(src, got, func(a, b bson.Raw) bool { return slices.Equal(a, b) }) {
			t.Errorf("%s: the snapshot holds %d documents, the source %d, or they differ", ns, len(got), len(src))
		}
		for _, f := range c.Files {
			if ns != "d.mixed" && f.Docs == 0 {
				t.Errorf("%s: file %s is empty", ns, f.Name)
			}
		}
	}
	// The ranges are in _id order: every _id of a file is above every _id
	// of the files before it.
	c, _ := m.Collection("d.ints")
	prevMax := int32(-1)
	for _, f := range c.Files {
		lo, hi := int32(1<<30), int32(-1)
		one := Collection{NS: c.NS, Type: c.Type, Files: []File{f}}
		if err := Docs(ctx, e.st, m, one, func(doc bson.Raw) error {
			id := doc.Lookup("_id").Int32()
			lo, hi = min(lo, id), max(hi, id)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if lo <= prevMax {
			t.Fatalf("file %s holds _ids %d to %d, not all above the previous file's %d", f.Name, lo, hi, prevMax)
		}
		prevMax = hi
	}
}

// rangeFilter gives open-ended first and last ranges, so that no value of
// the bounds' type falls outside every range.
func TestRangeFilter(t *testing.T) {
	p := []bson.RawValue{
		{Type: bson.TypeInt32, Value: []byte{10, 0, 0, 0}},
		{Type: bson.TypeInt32, Value: []byte{20, 0, 0, 0}},
	}
	want := []string{
		`{"_id": {"$lt": {"$numberInt":"10"}}}`,
		`{"_id": {"$gte": {"$numberInt":"10"},"$lt": {"$numberInt":"20"}}}`,
		`{"_id": {"$gte": {"$numberInt":"20"}}}`,
	}
	for part, w := range want {
		b, err := bson.Marshal(rangeFilter(p, part))
		if err != nil {
			t.Fatal(err)
		}
		if got := bson.Raw(b).String(); got != w {
			t.Errorf("part %d: %s, want %s", part, got, w)
		}
	}
}
