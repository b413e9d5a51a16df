package snapshot

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/store"
	"github.com/tidelog/tidelog/store/dirstore"
)

// env is a source server, a client to it and an empty store.
type env struct {
	srv    *testserver.Server
	client *mongo.Client
	st     *dirstore.Store
}

func newEnv(t testing.TB) *env {
	t.Helper()
	srv := testserver.StartT(t, testserver.Options{})
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Disconnect(context.Background()) })
	st, err := dirstore.Open(t.TempDir(), true)
	if err != nil {
		t.Fatal(err)
	}
	return &env{srv: srv, client: c, st: st}
}

func testLog(t testing.TB) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func coll(c *mongo.Client, ns string) *mongo.Collection {
	db, name, _ := strings.Cut(ns, ".")
	return c.Database(db).Collection(name)
}

// testDoc is a document of about 200 bytes with several BSON types.
func testDoc(id any, i int) bson.D {
	return bson.D{
		{Key: "_id", Value: id},
		{Key: "n", Value: int32(i)},
		{Key: "big", Value: int64(i) << 40},
		{Key: "f", Value: float64(i) / 7},
		{Key: "name", Value: fmt.Sprintf("item-%08d-%s", i, strings.Repeat("x", 60))},
		{Key: "tags", Value: bson.A{"a", int32(i % 10), bson.D{{Key: "k", Value: "v"}}}},
		{Key: "nested", Value: bson.D{{Key: "when", Value: bson.DateTime(1700000000000 + int64(i))}, {Key: "ok", Value: i%2 == 0}}},
	}
}

// insertDocs inserts docs into ns in batches of 500.
func insertDocs(t testing.TB, ctx context.Context, c *mongo.Client, ns string, docs []any) {
	t.Helper()
	for i := 0; i < len(docs); i += 500 {
		if _, err := coll(c, ns).InsertMany(ctx, docs[i:min(i+500, len(docs))]); err != nil {
			t.Fatalf("insert into %s: %v", ns, err)
		}
	}
}

// seq inserts testDoc(int32 id) for ids [from, to) into ns.
func seq(t testing.TB, ctx context.Context, c *mongo.Client, ns string, from, to int) {
	t.Helper()
	docs := make([]any, 0, to-from)
	for i := from; i < to; i++ {
		docs = append(docs, testDoc(int32(i), i))
	}
	insertDocs(t, ctx, c, ns, docs)
}

// idKey identifies an _id by BSON type and bytes, so 1 and "1" differ.
func idKey(doc bson.Raw) string {
	v := doc.Lookup("_id")
	return string(rune(v.Type)) + string(v.Value)
}

// sourceDocs reads every document of ns, by _id.
func sourceDocs(t testing.TB, ctx context.Context, c *mongo.Client, ns string) map[string]bson.Raw {
	t.Helper()
	cur, err := coll(c, ns).Find(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bson.Raw{}
	for cur.Next(ctx) {
		out[idKey(cur.Current)] = slices.Clone(cur.Current)
	}
	if err := cur.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// snapDocs reads every document of ns from the snapshot, by _id, and fails
// on an _id seen twice (files overlapping).
func snapDocs(t testing.TB, ctx context.Context, e *env, m *Manifest, ns string) map[string]bson.Raw {
	t.Helper()
	c, ok := m.Collection(ns)
	if !ok {
		t.Fatalf("snapshot has no collection %s", ns)
	}
	out := map[string]bson.Raw{}
	err := Docs(ctx, e.st, m, c, func(doc bson.Raw) error {
		k := idKey(doc)
		if _, dup := out[k]; dup {
			return fmt.Errorf("%s: _id %s appears twice in the snapshot", ns, doc.Lookup("_id"))
		}
		out[k] = slices.Clone(doc)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(out)) != c.Docs {
		t.Fatalf("%s: read %d documents, the manifest says %d", ns, len(out), c.Docs)
	}
	return out
}

// lastTS is the newest oplog position of e's source.
func (e *env) lastTS(t testing.TB, ctx context.Context) oplog.Timestamp {
	t.Helper()
	ts, err := e.srv.LastTS(ctx, e.client)
	if err != nil {
		t.Fatal(err)
	}
	return oplog.Timestamp{T: ts.T, I: ts.I}
}

// sortedDump is every document of ns in _id order as canonical Extended
// JSON: a byte-exact picture including field order and types.
func sortedDump(t testing.TB, ctx context.Context, c *mongo.Client, ns string) []string {
	t.Helper()
	cur, err := coll(c, ns).Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for cur.Next(ctx) {
		out = append(out, cur.Current.String())
	}
	if err := cur.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// loadSnapshot writes the snapshot's collections into target, as a restore
// would before it replays the oplog: create each with its options, insert
// its documents, build its recorded indexes.
func loadSnapshot(t testing.TB, ctx context.Context, st store.Store, m *Manifest, target *mongo.Client) {
	t.Helper()
	for _, c := range m.Collections {
		if c.Type != TypeCollection {
			t.Fatalf("loadSnapshot: %s is a %s", c.NS, c.Type)
		}
		db := target.Database(c.DB())
		create := append(bson.D{{Key: "create", Value: c.Name()}}, rawFields(t, c.Options)...)
		if err := db.RunCommand(ctx, create).Err(); err != nil {
			t.Fatalf("create %s: %v", c.NS, err)
		}
		var batch []any
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			_, err := db.Collection(c.Name()).InsertMany(ctx, batch)
			batch = batch[:0]
			return err
		}
		err := Docs(ctx, st, m, c, func(doc bson.Raw) error {
			batch = append(batch, slices.Clone(doc))
			if len(batch) == 500 {
				return flush()
			}
			return nil
		})
		if err == nil {
			err = flush()
		}
		if err != nil {
			t.Fatalf("load %s: %v", c.NS, err)
		}
		var specs bson.A
		for _, ix := range c.Indexes {
			if ix.Lookup("name").StringValue() != "_id_" {
				specs = append(specs, ix)
			}
		}
		if len(specs) > 0 {
			if err := db.RunCommand(ctx, bson.D{{Key: "createIndexes", Value: c.Name()}, {Key: "indexes", Value: specs}}).Err(); err != nil {
				t.Fatalf("create indexes of %s: %v", c.NS, err)
			}
		}
	}
}

// rawFields turns a raw document into bson.D elements that keep their types.
func rawFields(t testing.TB, doc bson.Raw) bson.D {
	t.Helper()
	elems, err := doc.Elements()
	if err != nil {
		t.Fatal(err)
	}
	var out bson.D
	for _, e := range elems {
		out = append(out, bson.E{Key: e.Key(), Value: e.Value()})
	}
	return out
}
