package load

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/replay"
)

// system.views is never loaded as documents: a definition whose view has
// metadata of its own is dropped, one without becomes a view create; the
// selection and renames apply to views as to collections.
func TestPlanSystemViews(t *testing.T) {
	ctx := context.Background()
	defs := []bson.Raw{
		raw(t, bson.D{{Key: "_id", Value: "shop.v1"}, {Key: "viewOn", Value: "orders"}, {Key: "pipeline", Value: bson.A{bson.D{{Key: "$match", Value: bson.D{{Key: "a", Value: 1}}}}}}}),
		raw(t, bson.D{{Key: "_id", Value: "shop.v2"}, {Key: "viewOn", Value: "orders"}, {Key: "pipeline", Value: bson.A{}}}),
		raw(t, bson.D{{Key: "_id", Value: "shop.hidden"}, {Key: "viewOn", Value: "orders"}, {Key: "pipeline", Value: bson.A{}}}),
	}
	colls := []Collection{
		{DB: "shop", Name: "orders", Docs: memDocs(nil)},
		{DB: "shop", Name: "system.views", Docs: memDocs(defs)},
		{DB: "shop", Name: "v2", Type: TypeView, Options: raw(t, bson.D{{Key: "viewOn", Value: "orders"}, {Key: "pipeline", Value: bson.A{bson.D{{Key: "$limit", Value: 1}}}}})},
	}
	ns, err := replay.NewNamespaces(nil, []string{"shop.hidden"}, []string{"shop.*"}, []string{"copy.*"})
	must(t, err)
	p, err := newPlan(ctx, colls, Options{Namespaces: ns}, testLog(t))
	must(t, err)
	got := map[string]*job{}
	for _, j := range p.jobs {
		got[j.ns()] = j
	}
	if len(got) != 3 || got["copy.orders"] == nil || got["copy.v1"] == nil || got["copy.v2"] == nil {
		t.Fatalf("jobs %v", p.namespaces())
	}
	if v1 := got["copy.v1"]; v1.kind != TypeView || len(v1.options) != 2 || v1.options[0].Key != "viewOn" || len(v1.docs) != 0 {
		t.Errorf("v1 from system.views: %+v", v1)
	}
	if v2 := got["copy.v2"]; len(v2.options[1].Value.(bson.A)) != 1 {
		t.Errorf("v2 must come from its metadata, not system.views: %+v", v2)
	}
	if len(p.leftOut) != 1 || p.leftOut[0] != "shop.hidden (view)" {
		t.Errorf("left out %v, want shop.hidden", p.leftOut)
	}

	bad := []Collection{{DB: "shop", Name: "system.views", Docs: memDocs([]bson.Raw{raw(t, bson.D{{Key: "_id", Value: "other.v"}})})}}
	if _, err := newPlan(ctx, bad, Options{}, testLog(t)); err == nil || !strings.Contains(err.Error(), "shop.system.views") {
		t.Errorf("a definition of another database's view: %v", err)
	}
}

// Types come from the declared type or the options; unknown ones are refused.
func TestPlanKinds(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		coll Collection
		kind string
		err  string
	}{
		{Collection{DB: "d", Name: "c"}, TypeCollection, ""},
		{Collection{DB: "d", Name: "c", Options: raw(t, bson.D{{Key: "viewOn", Value: "x"}})}, TypeView, ""},
		{Collection{DB: "d", Name: "c", Options: raw(t, bson.D{{Key: "timeseries", Value: bson.D{{Key: "timeField", Value: "t"}}}})}, TypeTimeseries, ""},
		{Collection{DB: "d", Name: "c", Type: TypeView}, "", "without viewOn"},
		{Collection{DB: "d", Name: "c", Type: "capped-ish"}, "", "capped-ish"},
		{Collection{DB: "d", Name: "c", Options: raw(t, bson.D{{Key: "idIndex", Value: bson.D{}}, {Key: "capped", Value: true}})}, TypeCollection, ""},
	} {
		p, err := newPlan(ctx, []Collection{tc.coll}, Options{}, testLog(t))
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%+v: error %v, want %q", tc.coll, err, tc.err)
			}
		case err != nil:
			t.Errorf("%+v: %v", tc.coll, err)
		case p.jobs[0].kind != tc.kind:
			t.Errorf("%+v: kind %s, want %s", tc.coll, p.jobs[0].kind, tc.kind)
		}
	}
	p, err := newPlan(ctx, []Collection{{DB: "d", Name: "c", Options: raw(t, bson.D{{Key: "idIndex", Value: bson.D{}}, {Key: "capped", Value: true}, {Key: "size", Value: 10}})}}, Options{}, testLog(t))
	must(t, err)
	if j := p.jobs[0]; !j.capped || len(j.options) != 2 || j.options[0].Key != "capped" {
		t.Errorf("capped job %+v: idIndex must go, capped stay", j)
	}
}

// Index specs lose ns and v; the _id index is dropped.
func TestCleanIndexSpecs(t *testing.T) {
	id := bson.D{{Key: "v", Value: int32(2)}, {Key: "key", Value: bson.D{{Key: "_id", Value: int32(1)}}}, {Key: "name", Value: "_id_"}}
	hashedID := bson.D{{Key: "key", Value: bson.D{{Key: "_id", Value: "hashed"}}}, {Key: "name", Value: "_id_hashed"}}
	if !IsIDIndex(id) || IsIDIndex(hashedID) {
		t.Error("isIDIndex")
	}
	got := cleanIndexSpec(bson.D{{Key: "v", Value: int32(1)}, {Key: "key", Value: bson.D{{Key: "a", Value: 1}}}, {Key: "name", Value: "a_1"}, {Key: "ns", Value: "d.c"}, {Key: "unique", Value: true}})
	if len(got) != 3 || got[0].Key != "key" || got[2].Key != "unique" {
		t.Errorf("cleaned %v", got)
	}
}

func entry(t *testing.T, ts uint32, id int) bson.Raw {
	return raw(t, bson.D{{Key: "ts", Value: bson.Timestamp{T: ts, I: 1}}, {Key: "op", Value: "i"}, {Key: "ns", Value: "d.c"}, {Key: "o", Value: bson.D{{Key: "_id", Value: id}}}})
}

func part(name string, entries ...bson.Raw) Part {
	return Part{Name: name, Source: func(fn func(bson.Raw) error) error {
		for _, e := range entries {
			if err := fn(e); err != nil {
				return err
			}
		}
		return nil
	}}
}

func chainTS(src replay.Source) ([]string, error) {
	var got []string
	err := src(func(e bson.Raw) error {
		ts, err := oplog.EntryTS(e)
		got = append(got, ts.String())
		return err
	})
	return got, err
}

// Chained parts skip what an earlier part already covered, every pass.
func TestChain(t *testing.T) {
	src, count := Chain(false,
		part("dump", entry(t, 10, 1), entry(t, 12, 2)),
		part("a", entry(t, 11, 3), entry(t, 12, 4), entry(t, 13, 5)), // overlaps through 12
		part("empty"),
		part("b", entry(t, 13, 6), entry(t, 14, 7)),
	)
	for pass := 0; pass < 2; pass++ {
		got, err := chainTS(src)
		must(t, err)
		if strings.Join(got, " ") != "10.1 12.1 13.1 14.1" || count.Overlap != 3 {
			t.Errorf("pass %d: %v, overlap %d", pass, got, count.Overlap)
		}
	}
}

// A part that cannot be shown to continue the ones before it stops the
// chain before any of its entries pass.
func TestChainRefusesGapsAndDisorder(t *testing.T) {
	for _, tc := range []struct {
		name     string
		allowGap bool
		parts    []Part
		want     string // the entries passed, then the error's part ("" for none)
		errPart  string
		nothing  bool
	}{
		{"gap after the dump", false, []Part{part("dump", entry(t, 10, 1)), part("late", entry(t, 12, 2))}, "10.1", "late", false},
		{"a dump without oplog entries", false, []Part{part("dump"), part("file", entry(t, 12, 2))}, "", "file", false},
		{"gap allowed", true, []Part{part("dump", entry(t, 10, 1)), part("late", entry(t, 12, 2))}, "10.1 12.1", "", false},
		{"files out of order", false, []Part{part("dump", entry(t, 10, 1)), part("second", entry(t, 10, 1), entry(t, 20, 2), entry(t, 30, 3)), part("first", entry(t, 10, 1), entry(t, 15, 4))}, "10.1 20.1 30.1", "first", true},
		{"file given twice", false, []Part{part("dump", entry(t, 10, 1)), part("f", entry(t, 10, 1), entry(t, 11, 2)), part("f again", entry(t, 10, 1), entry(t, 11, 2))}, "10.1 11.1", "f again", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, _ := Chain(tc.allowGap, tc.parts...)
			got, err := chainTS(src)
			if strings.Join(got, " ") != tc.want {
				t.Errorf("passed %v, want %s", got, tc.want)
			}
			var ce *ChainError
			if tc.errPart == "" {
				if err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
				return
			}
			if !errors.As(err, &ce) || ce.Part != tc.errPart || ce.NothingNewLeft != tc.nothing {
				t.Fatalf("err = %v, want a ChainError for %q (nothing new: %v)", err, tc.errPart, tc.nothing)
			}
		})
	}
}
