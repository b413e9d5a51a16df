package load

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/replay"
)

// A base of several collections, one spanning many batches, lands byte for
// byte with its indexes (unique ones unique) built after the data;
// internal namespaces and users are left out; a capped collection keeps the
// source's order.
func TestLoadCollections(t *testing.T) {
	ctx := context.Background()
	c := target(t)
	orders := genDocs(t, 2600, "orders") // three batches of up to 1,000
	users := genDocs(t, 40, "users")
	events := genDocs(t, 30, "events")
	js := []bson.Raw{raw(t, bson.D{{Key: "_id", Value: "f"}, {Key: "value", Value: "function() { return 1 }"}})}
	colls := []Collection{
		{DB: "shop", Name: "orders", Docs: memDocs(orders), Indexes: []bson.D{
			{{Key: "v", Value: int32(2)}, {Key: "key", Value: bson.D{{Key: "_id", Value: int32(1)}}}, {Key: "name", Value: "_id_"}, {Key: "ns", Value: "shop.orders"}},
			{{Key: "v", Value: int32(2)}, {Key: "key", Value: bson.D{{Key: "s", Value: int32(1)}}}, {Key: "name", Value: "s_1"}, {Key: "unique", Value: true}, {Key: "ns", Value: "shop.orders"}},
			{{Key: "v", Value: int32(1)}, {Key: "key", Value: bson.D{{Key: "tag", Value: int32(1)}, {Key: "n", Value: int32(-1)}}}, {Key: "name", Value: "tag_1_n_-1"}},
		}},
		{DB: "shop", Name: "users", Docs: memDocs(users), Indexes: []bson.D{
			{{Key: "key", Value: bson.D{{Key: "n", Value: int32(1)}}}, {Key: "name", Value: "n_1"}, {Key: "unique", Value: true}},
		}},
		{DB: "shop", Name: "empty"},
		{DB: "logs", Name: "events", Options: raw(t, bson.D{{Key: "capped", Value: true}, {Key: "size", Value: int64(1 << 20)}}), Docs: memDocs(events)},
		{DB: "logs", Name: "system.js", Docs: memDocs(js)},
		// Never loaded: server-internal, and users without IncludeUsers.
		{DB: "local", Name: "oplog.rs", Docs: memDocs(events)},
		{DB: "config", Name: "system.sessions", Docs: memDocs(events)},
		{DB: "admin", Name: "system.version", Docs: memDocs(events)},
		{DB: "shop", Name: "system.profile", Docs: memDocs(events)},
		{DB: "admin", Name: "system.users", Docs: memDocs(users)},
	}
	var mu sync.Mutex
	progress := map[string]int64{}
	stats, err := Load(ctx, c, colls, Options{Workers: 3, Progress: func(ns string, n int64) {
		mu.Lock()
		defer mu.Unlock()
		if n <= progress[ns] {
			t.Errorf("progress of %s went from %d to %d", ns, progress[ns], n)
		}
		progress[ns] = n
	}}, testLog(t))
	must(t, err)

	sameDocs(t, "shop.orders", docsOf(t, c, "shop", "orders"), orders)
	sameDocs(t, "shop.users", docsOf(t, c, "shop", "users"), users)
	sameDocs(t, "logs.system.js", docsOf(t, c, "logs", "system.js"), js)
	got := docsOf(t, c, "logs", "events") // natural order: a capped collection keeps the source's
	for i := range events {
		if i >= len(got) || string(got[i]) != string(events[i]) {
			t.Fatalf("logs.events in natural order differs at %d: got %d documents", i, len(got))
		}
	}
	idx := indexes(t, c, "shop", "orders")
	if _, ok := idx["tag_1_n_-1"]; len(idx) != 3 || !ok || !idx["s_1"] || idx["tag_1_n_-1"] {
		t.Errorf("shop.orders indexes %v, want _id_, s_1 (unique), tag_1_n_-1", idx)
	}
	if idx := indexes(t, c, "shop", "users"); len(idx) != 2 || !idx["n_1"] {
		t.Errorf("shop.users indexes %v, want _id_ and n_1 (unique)", idx)
	}
	if names := collections(t, c, "shop"); strings.Join(names, " ") != "empty orders users" {
		t.Errorf("shop holds %v", names)
	}
	for _, db := range []string{"local", "config", "admin"} {
		if names := collections(t, c, db); len(names) > 0 {
			t.Errorf("loaded into %s: %v", db, names)
		}
	}
	if stats.Collections != 5 || stats.Views != 0 || stats.Docs != int64(len(orders)+len(users)+len(events)+len(js)) ||
		stats.IndexesBuilt != 3 || stats.LeftOut != 5 {
		t.Errorf("stats %+v", stats)
	}
	var bytes int64
	for _, set := range [][]bson.Raw{orders, users, events, js} {
		for _, d := range set {
			bytes += int64(len(d))
		}
	}
	if stats.Bytes != bytes {
		t.Errorf("stats count %d bytes, the documents hold %d", stats.Bytes, bytes)
	}
	if progress["shop.orders"] != int64(len(orders)) || progress["logs.events"] != int64(len(events)) {
		t.Errorf("final progress %v", progress)
	}

	// With IncludeUsers, admin.system.users is loaded too.
	c2 := target(t)
	_, err = Load(ctx, c2, colls[len(colls)-1:], Options{IncludeUsers: true}, testLog(t))
	must(t, err)
	sameDocs(t, "admin.system.users", docsOf(t, c2, "admin", "system.users"), users)
}

// A namespace that holds documents is refused, before any write; an empty
// one is filled as it is; Drop replaces what is there.
func TestLoadConflictAndDrop(t *testing.T) {
	ctx := context.Background()
	c := target(t)
	_, err := c.Database("shop").Collection("orders").InsertOne(ctx, bson.D{{Key: "_id", Value: "old"}})
	must(t, err)
	_, err = c.Database("shop").Collection("taken").InsertOne(ctx, bson.D{{Key: "_id", Value: "x"}})
	must(t, err)
	must(t, c.Database("shop").CreateCollection(ctx, "empty"))
	orders, fresh, empty := genDocs(t, 5, "o"), genDocs(t, 5, "f"), genDocs(t, 5, "e")
	colls := []Collection{
		{DB: "shop", Name: "orders", Docs: memDocs(orders)},
		{DB: "shop", Name: "fresh", Docs: memDocs(fresh)},
		{DB: "shop", Name: "empty", Docs: memDocs(empty)},
	}
	_, err = Load(ctx, c, colls, Options{Reserve: []string{"shop.taken", "shop.free"}}, testLog(t))
	var ce *ConflictError
	if !errors.As(err, &ce) || strings.Join(ce.Namespaces, " ") != "shop.orders shop.taken" {
		t.Fatalf("error %v, want a conflict on shop.orders and shop.taken", err)
	}
	if names := collections(t, c, "shop"); strings.Join(names, " ") != "empty orders taken" {
		t.Errorf("a refused load wrote: shop holds %v", names)
	}

	_, err = Load(ctx, c, colls, Options{Drop: true, Reserve: []string{"shop.taken", "shop.free"}}, testLog(t))
	must(t, err)
	sameDocs(t, "shop.orders", docsOf(t, c, "shop", "orders"), orders)
	sameDocs(t, "shop.fresh", docsOf(t, c, "shop", "fresh"), fresh)
	sameDocs(t, "shop.empty", docsOf(t, c, "shop", "empty"), empty)
	if names := collections(t, c, "shop"); strings.Join(names, " ") != "empty fresh orders" {
		t.Errorf("after Drop shop holds %v (the reserved shop.taken must be dropped)", names)
	}

	// Into a target whose only copy is empty: reused without Drop.
	c2 := target(t)
	must(t, c2.Database("shop").CreateCollection(ctx, "empty"))
	_, err = Load(ctx, c2, colls, Options{}, testLog(t))
	must(t, err)
	sameDocs(t, "shop.empty", docsOf(t, c2, "shop", "empty"), empty)
}

// Selection and renames work as for a replay.
func TestLoadRenames(t *testing.T) {
	ctx := context.Background()
	c := target(t)
	a, b, other := genDocs(t, 7, "a"), genDocs(t, 3, "b"), genDocs(t, 2, "other")
	ns, err := replay.NewNamespaces([]string{"shop.*"}, []string{"shop.skip"}, []string{"shop.b", "shop.*"}, []string{"archive.b2", "staging.*"})
	must(t, err)
	uniq := []bson.D{{{Key: "key", Value: bson.D{{Key: "s", Value: int32(1)}}}, {Key: "name", Value: "s_1"}, {Key: "unique", Value: true}}}
	colls := []Collection{
		{DB: "shop", Name: "a", Docs: memDocs(a), Indexes: uniq},
		{DB: "shop", Name: "b", Docs: memDocs(b)},
		{DB: "shop", Name: "skip", Docs: memDocs(other)},
		{DB: "other", Name: "c", Docs: memDocs(other)},
	}
	stats, err := Load(ctx, c, colls, Options{Namespaces: ns}, testLog(t))
	must(t, err)
	sameDocs(t, "staging.a", docsOf(t, c, "staging", "a"), a)
	sameDocs(t, "archive.b2", docsOf(t, c, "archive", "b2"), b)
	if !indexes(t, c, "staging", "a")["s_1"] {
		t.Error("staging.a lacks its unique index")
	}
	for _, db := range []string{"shop", "other"} {
		if names := collections(t, c, db); len(names) > 0 {
			t.Errorf("%s holds %v", db, names)
		}
	}
	if strings.Join(stats.Namespaces, " ") != "archive.b2 staging.a" || stats.LeftOut != 2 {
		t.Errorf("stats %+v", stats)
	}

	// Two sources renamed onto one target are refused before any write.
	ns2, err := replay.NewNamespaces(nil, nil, []string{"shop.a", "shop.b"}, []string{"x.y", "x.y"})
	must(t, err)
	c2 := target(t)
	if _, err := Load(ctx, c2, colls[:2], Options{Namespaces: ns2}, testLog(t)); err == nil || !strings.Contains(err.Error(), "x.y") {
		t.Errorf("error %v, want one about both landing on x.y", err)
	}
}

// A document the target refuses stops the load with an error naming the
// namespace and the document.
func TestLoadFailingInsert(t *testing.T) {
	ctx := context.Background()
	c := target(t)
	docs := genDocs(t, 1500, "d")
	docs = append(docs, docs[1234]) // a duplicate _id in the source
	_, err := Load(ctx, c, []Collection{{DB: "shop", Name: "dups", Docs: memDocs(docs)}}, Options{}, testLog(t))
	if err == nil || !strings.Contains(err.Error(), "shop.dups") || !strings.Contains(err.Error(), `{"_id":1234}`) {
		t.Fatalf("error %v, want one naming shop.dups and _id 1234", err)
	}
	t.Log(err)

	readErr := errors.New("disk on fire")
	_, err = Load(ctx, c, []Collection{{DB: "shop", Name: "broken", Docs: func(ctx context.Context, fn func(bson.Raw) error) error {
		return readErr
	}}}, Options{}, testLog(t))
	if !errors.Is(err, readErr) || !strings.Contains(err.Error(), "shop.broken") {
		t.Fatalf("error %v, want the read error, naming shop.broken", err)
	}
}

// FerretDB has no views, timeseries collections or validators: the load
// says which namespace needs what, before any document is written.
func TestLoadUnsupportedOnFerretDB(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, want string
		coll       Collection
	}{
		{"view", "a view on orders", Collection{DB: "shop", Name: "v", Type: TypeView,
			Options: raw(t, bson.D{{Key: "viewOn", Value: "orders"}, {Key: "pipeline", Value: bson.A{}}})}},
		{"timeseries", "a timeseries collection", Collection{DB: "shop", Name: "ts", Type: TypeTimeseries,
			Options: raw(t, bson.D{{Key: "timeseries", Value: bson.D{{Key: "timeField", Value: "t"}}}})}},
		{"validator", "a collection with options validator", Collection{DB: "shop", Name: "valid",
			Options: raw(t, bson.D{{Key: "validator", Value: bson.D{{Key: "a", Value: bson.D{{Key: "$exists", Value: true}}}}}})}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := target(t)
			colls := []Collection{{DB: "shop", Name: "orders", Docs: memDocs(genDocs(t, 3, "o"))}, tc.coll}
			_, err := Load(ctx, c, colls, Options{}, testLog(t))
			var ue *UnsupportedError
			if !errors.As(err, &ue) || ue.NS != "shop."+tc.coll.Name || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want an UnsupportedError naming shop.%s and %q", err, tc.coll.Name, tc.want)
			}
			t.Log(err)
			if names := collections(t, c, "shop"); len(names) > 0 {
				t.Errorf("a load refused at create wrote: shop holds %v", names)
			}
		})
	}
}
