package snapshot

import (
	"reflect"
	"slices"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tidelog/tidelog/internal/testserver"
)

// The manifest records each collection's options and indexes as the source
// reports them (without the index version), empty collections get an empty
// file, odd collection names get store-safe file names, and only user data
// is copied. A restore built from the manifest recreates the same options
// and indexes.
func TestMetadata(t *testing.T) {
	ctx := testCtx(t)
	e := newEnv(t)
	db := e.client.Database("meta")
	if err := db.CreateCollection(ctx, "capped", options.CreateCollection().SetCapped(true).SetSizeInBytes(1<<20).SetMaxDocuments(500)); err != nil {
		t.Fatal(err)
	}
	seq(t, ctx, e.client, "meta.capped", 0, 50)
	if err := db.CreateCollection(ctx, "empty"); err != nil {
		t.Fatal(err)
	}
	const odd = "odd name-é.x"
	seq(t, ctx, e.client, "meta."+odd, 0, 20)
	seq(t, ctx, e.client, "meta.indexed", 0, 50)
	_, err := db.Collection("indexed").Indexes().CreateMany(ctx, []mongo.IndexModel{
		{Keys: bson.D{{Key: "name", Value: 1}}, Options: options.Index().SetUnique(true).SetName("name_unique")},
		{Keys: bson.D{{Key: "n", Value: -1}, {Key: "big", Value: 1}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	seq(t, ctx, e.client, "admin.appdata", 0, 5) // user data in admin is copied

	m, err := Take(ctx, e.client, e.st, Options{}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"admin.appdata", "meta.capped", "meta.empty", "meta.indexed", "meta." + odd}
	if got := collNames(m); !reflect.DeepEqual(got, want) {
		t.Fatalf("collections %q, want %q", got, want)
	}

	capped, _ := m.Collection("meta.capped")
	if capped.Type != TypeCollection || !capped.Options.Lookup("capped").Boolean() ||
		capped.Options.Lookup("size").AsInt64() != 1<<20 || capped.Options.Lookup("max").AsInt64() != 500 {
		t.Errorf("meta.capped: type %s, options %s: want a capped collection of 1 MiB and 500 documents", capped.Type, capped.Options)
	}
	if capped.UUID == "" || len(capped.UUID) != 32 {
		t.Errorf("meta.capped: uuid %q, want 32 hex digits", capped.UUID)
	}

	indexed, _ := m.Collection("meta.indexed")
	var specs []string
	for _, ix := range indexed.Indexes {
		if _, err := ix.LookupErr("v"); err == nil {
			t.Errorf("index spec %s keeps the index version", ix)
		}
		specs = append(specs, ix.String())
	}
	wantSpecs := []string{
		`{"key": {"_id": {"$numberInt":"1"}},"name": "_id_"}`,
		`{"key": {"n": {"$numberInt":"-1"},"big": {"$numberInt":"1"}},"name": "n_-1_big_1"}`,
		`{"key": {"name": {"$numberInt":"1"}},"name": "name_unique","unique": true}`,
	}
	slices.Sort(specs)
	if !reflect.DeepEqual(specs, wantSpecs) {
		t.Errorf("meta.indexed indexes:\n %q\nwant\n %q", specs, wantSpecs)
	}

	empty, _ := m.Collection("meta.empty")
	if len(empty.Files) != 1 || empty.Docs != 0 || empty.Files[0].StoredBytes == 0 {
		t.Errorf("meta.empty: %d files, %d docs: want one empty (but stored) file", len(empty.Files), empty.Docs)
	}
	oddc, _ := m.Collection("meta." + odd)
	if err := checkName("file name", oddc.Files[0].Name); err != nil || oddc.Docs != 20 {
		t.Errorf("meta.%s: file %q (%v), %d docs", odd, oddc.Files[0].Name, err, oddc.Docs)
	}
	if err := Verify(ctx, e.st, m); err != nil {
		t.Fatal(err)
	}

	// A restore from the manifest: same options, same indexes, same documents.
	target := testserver.StartT(t, testserver.Options{NoOplog: true})
	tc, err := target.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Disconnect(ctx)
	loadSnapshot(t, ctx, e.st, m, tc)
	for _, ns := range want {
		if !slices.Equal(sortedDump(t, ctx, e.client, ns), sortedDump(t, ctx, tc, ns)) {
			t.Errorf("%s restored from the snapshot differs from the source", ns)
		}
		if got, want := indexSpecs(t, tc, ns), indexSpecs(t, e.client, ns); !reflect.DeepEqual(got, want) {
			t.Errorf("%s restored indexes %q, want %q", ns, got, want)
		}
	}
	var info bson.Raw
	if err := tc.Database("meta").RunCommand(ctx, bson.D{{Key: "listCollections", Value: 1},
		{Key: "filter", Value: bson.D{{Key: "name", Value: "capped"}}}}).Decode(&info); err != nil {
		t.Fatal(err)
	}
	wantOpts := bson.RawValue{Type: bson.TypeEmbeddedDocument, Value: capped.Options}
	if opts := info.Lookup("cursor", "firstBatch", "0", "options"); opts.String() != wantOpts.String() {
		t.Errorf("restored meta.capped options %s, want %s", opts, capped.Options)
	}
}

// indexSpecs lists ns's index specs (without v) as Extended JSON, sorted.
func indexSpecs(t testing.TB, c *mongo.Client, ns string) []string {
	t.Helper()
	ctx := testCtx(t)
	cur, err := coll(c, ns).Indexes().List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for cur.Next(ctx) {
		spec, err := withoutKeys(cur.Current, "v")
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, spec.String())
	}
	slices.Sort(out)
	return out
}

// listCollections results as MongoDB gives them, for what FerretDB cannot
// host (views, timeseries collections, system collections): views and
// timeseries collections are recorded with their options and no data,
// system.buckets.* is data, system.views and internal collections are not
// copied, users and roles only on request.
func TestCollectionFromInfo(t *testing.T) {
	doc := func(d bson.D) bson.Raw { return mustMarshal(t, d) }
	view := doc(bson.D{{Key: "name", Value: "recent"}, {Key: "type", Value: "view"},
		{Key: "options", Value: bson.D{{Key: "viewOn", Value: "orders"}, {Key: "pipeline", Value: bson.A{
			bson.D{{Key: "$match", Value: bson.D{{Key: "n", Value: bson.D{{Key: "$gt", Value: int32(5)}}}}}}}}}},
		{Key: "info", Value: bson.D{{Key: "readOnly", Value: true}}}})
	ts := doc(bson.D{{Key: "name", Value: "weather"}, {Key: "type", Value: "timeseries"},
		{Key: "options", Value: bson.D{{Key: "timeseries", Value: bson.D{{Key: "timeField", Value: "t"},
			{Key: "metaField", Value: "m"}, {Key: "granularity", Value: "seconds"}, {Key: "bucketMaxSpanSeconds", Value: int32(3600)}}}}},
		{Key: "info", Value: bson.D{{Key: "readOnly", Value: false}}}})
	plain := func(name string) bson.Raw {
		return doc(bson.D{{Key: "name", Value: name}, {Key: "type", Value: "collection"}, {Key: "options", Value: bson.D{}},
			{Key: "info", Value: bson.D{{Key: "uuid", Value: bson.Binary{Subtype: 4, Data: make([]byte, 16)}}}}})
	}
	cases := []struct {
		db           string
		info         bson.Raw
		includeUsers bool
		wantOK       bool
		wantType     string
	}{
		{"shop", view, false, true, TypeView},
		{"shop", ts, false, true, TypeTimeseries},
		{"shop", plain("system.buckets.weather"), false, true, TypeCollection},
		{"shop", plain("system.js"), false, true, TypeCollection},
		{"shop", plain("system.views"), false, false, ""},
		{"shop", plain("system.profile"), false, false, ""},
		{"admin", plain("system.version"), true, false, ""},
		{"admin", plain("system.users"), false, false, ""},
		{"admin", plain("system.users"), true, true, TypeCollection},
		{"admin", plain("system.roles"), true, true, TypeCollection},
		{"config", plain("settings"), true, false, ""},
		{"local", plain("startup_log"), true, false, ""},
	}
	for _, c := range cases {
		got, ok, err := collectionFromInfo(c.db, c.info, c.includeUsers)
		name := c.db + "." + c.info.Lookup("name").StringValue()
		if err != nil || ok != c.wantOK || got.Type != c.wantType {
			t.Errorf("%s (users %v): ok %v, type %q, err %v: want ok %v, type %q", name, c.includeUsers, ok, got.Type, err, c.wantOK, c.wantType)
			continue
		}
		if ok && got.NS != name {
			t.Errorf("%s: NS %q", name, got.NS)
		}
	}
	v, _, _ := collectionFromInfo("shop", view, false)
	if v.Options.Lookup("viewOn").StringValue() != "orders" || v.Options.Lookup("pipeline", "0", "$match", "n", "$gt").Int32() != 5 {
		t.Errorf("view options %s: want the view definition", v.Options)
	}
	if _, _, err := collectionFromInfo("shop", doc(bson.D{{Key: "name", Value: "x"}, {Key: "type", Value: "newkind"}}), false); err == nil {
		t.Error("a collection of an unknown type was accepted: its data could be left out silently")
	}
}
