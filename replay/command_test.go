package replay

import (
	"context"
	"sort"
	"testing"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/tidelog/tidelog/internal/testserver"
)

func cmd(t *testing.T, i uint32, db string, o bson.D) bson.Raw {
	return entry(t, i, "c", db+".$cmd", o, nil)
}

func collections(t *testing.T, c *mongo.Client, db string) []string {
	t.Helper()
	names, err := c.Database(db).ListCollectionNames(context.Background(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	return names
}

func indexNames(t *testing.T, c *mongo.Client, db, coll string) []string {
	t.Helper()
	cur, err := c.Database(db).Collection(coll).Indexes().List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for cur.Next(context.Background()) {
		names = append(names, cur.Current.Lookup("name").StringValue())
	}
	sort.Strings(names)
	return names
}

// DDL as real servers log it, replayed onto a real server; run twice to
// prove the commands are idempotent.
func TestCommands(t *testing.T) {
	srv := testserver.StartT(t, testserver.Options{NoOplog: true})
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(context.Background())

	idIndex := bson.D{{Key: "v", Value: int32(2)}, {Key: "key", Value: bson.D{{Key: "_id", Value: int32(1)}}}, {Key: "name", Value: "_id_"}}
	log := []bson.Raw{
		cmd(t, 1, "shop", bson.D{{Key: "create", Value: "orders"}, {Key: "idIndex", Value: idIndex}}),
		cmd(t, 2, "shop", bson.D{{Key: "createIndexes", Value: "orders"}, {Key: "v", Value: int32(2)}, {Key: "key", Value: bson.D{{Key: "sku", Value: int32(1)}}}, {Key: "name", Value: "sku_1"}, {Key: "unique", Value: true}}),
		cmd(t, 3, "shop", bson.D{{Key: "startIndexBuild", Value: "orders"}, {Key: "indexes", Value: bson.A{bson.D{{Key: "v", Value: int32(2)}, {Key: "key", Value: bson.D{{Key: "n", Value: int32(1)}}}, {Key: "name", Value: "n_1"}}}}}),
		cmd(t, 4, "shop", bson.D{{Key: "commitIndexBuild", Value: "orders"}, {Key: "indexes", Value: bson.A{bson.D{{Key: "v", Value: int32(2)}, {Key: "key", Value: bson.D{{Key: "n", Value: int32(1)}}}, {Key: "name", Value: "n_1"}}}}}),
		entry(t, 5, "i", "shop.orders", bson.D{{Key: "_id", Value: int32(1)}, {Key: "sku", Value: "a"}, {Key: "n", Value: int32(1)}}, nil),
		entry(t, 6, "i", "shop.orders", bson.D{{Key: "_id", Value: int32(2)}, {Key: "sku", Value: "b"}, {Key: "n", Value: int32(2)}}, nil),
		cmd(t, 7, "shop", bson.D{{Key: "dropIndexes", Value: "orders"}, {Key: "index", Value: "n_1"}}),
		cmd(t, 8, "shop", bson.D{{Key: "create", Value: "tmp"}}),
		entry(t, 9, "i", "shop.tmp", bson.D{{Key: "_id", Value: int32(1)}}, nil),
		cmd(t, 10, "shop", bson.D{{Key: "drop", Value: "tmp"}}),
		cmd(t, 11, "shop", bson.D{{Key: "create", Value: "old"}}),
		entry(t, 12, "i", "shop.old", bson.D{{Key: "_id", Value: int32(7)}}, nil),
		cmd(t, 13, "admin", bson.D{{Key: "renameCollection", Value: "shop.old"}, {Key: "to", Value: "archive.kept"}, {Key: "stayTemp", Value: false}}),
		cmd(t, 14, "gone", bson.D{{Key: "create", Value: "x"}}),
		cmd(t, 15, "gone", bson.D{{Key: "dropDatabase", Value: int32(1)}}),
		entry(t, 16, "i", "config.transactions", bson.D{{Key: "_id", Value: int32(1)}}, nil),
		entry(t, 17, "i", "admin.system.users", bson.D{{Key: "_id", Value: "admin.bob"}}, nil),
	}
	for round := 0; round < 2; round++ {
		a := NewApplier(c, Options{}, zerolog.Nop())
		applyAll(t, a, log)
		if err := a.Finish(context.Background()); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if got := collections(t, c, "shop"); len(got) != 1 || got[0] != "orders" {
			t.Errorf("round %d: shop holds %v, want [orders]", round, got)
		}
		if got := indexNames(t, c, "shop", "orders"); len(got) != 2 || got[0] != "_id_" || got[1] != "sku_1" {
			t.Errorf("round %d: shop.orders indexes %v, want [_id_ sku_1] (n_1 was dropped before the end)", round, got)
		}
		n, _ := c.Database("shop").Collection("orders").CountDocuments(context.Background(), bson.D{})
		k, _ := c.Database("archive").Collection("kept").CountDocuments(context.Background(), bson.D{})
		if n != 2 || k != 1 {
			t.Errorf("round %d: shop.orders has %d documents (want 2), archive.kept %d (want 1)", round, n, k)
		}
		if got := collections(t, c, "gone"); len(got) != 0 {
			t.Errorf("round %d: dropped database still holds %v", round, got)
		}
		if got := collections(t, c, "config"); len(got) != 0 {
			t.Errorf("round %d: config.* was written: %v", round, got)
		}
		if got := collections(t, c, "admin"); len(got) != 0 {
			t.Errorf("round %d: admin.system.users written without IncludeUsers: %v", round, got)
		}
		s := a.Stats()
		if s.Skipped != 2 || s.IndexesBuilt != 1 {
			t.Errorf("round %d: stats %+v, want 2 skipped and 1 index built", round, s)
		}
	}
}

func TestNamespaceSelectionAndRename(t *testing.T) {
	srv := testserver.StartT(t, testserver.Options{NoOplog: true})
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(context.Background())
	ns, err := NewNamespaces([]string{"shop.*"}, []string{"shop.secret"}, []string{"shop.*"}, []string{"staging.*"})
	if err != nil {
		t.Fatal(err)
	}
	a := NewApplier(c, Options{Namespaces: ns}, zerolog.Nop())
	applyAll(t, a, []bson.Raw{
		entry(t, 1, "i", "shop.orders", bson.D{{Key: "_id", Value: int32(1)}}, nil),
		entry(t, 2, "i", "shop.secret", bson.D{{Key: "_id", Value: int32(1)}}, nil),
		entry(t, 3, "i", "app.events", bson.D{{Key: "_id", Value: int32(1)}}, nil),
		entry(t, 4, "u", "shop.orders", bson.D{{Key: "$v", Value: int32(1)}, {Key: "$set", Value: bson.D{{Key: "x", Value: int32(5)}}}}, id(1)),
		cmd(t, 5, "shop", bson.D{{Key: "dropDatabase", Value: int32(1)}}),
		entry(t, 6, "i", "shop.orders", bson.D{{Key: "_id", Value: int32(2)}}, nil),
	})
	if got := collections(t, c, "staging"); len(got) != 1 || got[0] != "orders" {
		t.Errorf("staging holds %v, want [orders]", got)
	}
	for _, db := range []string{"shop", "app"} {
		if got := collections(t, c, db); len(got) != 0 {
			t.Errorf("%s was written: %v", db, got)
		}
	}
	n, _ := c.Database("staging").Collection("orders").CountDocuments(context.Background(), bson.D{})
	if n != 1 {
		t.Errorf("staging.orders has %d documents after dropDatabase and one insert, want 1", n)
	}
}
