package load

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/tidelog/tidelog/internal/testserver"
)

func fixtures(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(testserver.RepoRoot(), "..", "shared", "fixtures")
	if _, err := os.Stat(filepath.Join(dir, "README.md")); err != nil {
		t.Fatalf("shared fixtures not found at %s: %v", dir, err)
	}
	return dir
}

func testLog(t *testing.T) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
}

// target starts a fresh FerretDB and returns a client to it.
func target(t *testing.T) *mongo.Client {
	t.Helper()
	srv := testserver.StartT(t, testserver.Options{NoOplog: true})
	c, err := srv.Client()
	must(t, err)
	t.Cleanup(func() { c.Disconnect(context.Background()) })
	return c
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func raw(t *testing.T, d bson.D) bson.Raw {
	t.Helper()
	b, err := bson.Marshal(d)
	must(t, err)
	return b
}

// memDocs serves documents from memory as a Docs stream.
func memDocs(docs []bson.Raw) func(context.Context, func(bson.Raw) error) error {
	return func(ctx context.Context, fn func(bson.Raw) error) error {
		for _, d := range docs {
			if err := fn(d); err != nil {
				return err
			}
		}
		return nil
	}
}

// docsOf returns a collection's documents in natural order.
func docsOf(t *testing.T, c *mongo.Client, db, coll string) []bson.Raw {
	t.Helper()
	ctx := context.Background()
	cur, err := c.Database(db).Collection(coll).Find(ctx, bson.D{})
	must(t, err)
	defer cur.Close(ctx)
	var out []bson.Raw
	for cur.Next(ctx) {
		out = append(out, append(bson.Raw(nil), cur.Current...))
	}
	must(t, cur.Err())
	return out
}

// sameDocs checks that got holds exactly want, byte for byte, in any order.
func sameDocs(t *testing.T, ns string, got, want []bson.Raw) {
	t.Helper()
	key := func(docs []bson.Raw) []string {
		out := make([]string, len(docs))
		for i, d := range docs {
			out[i] = string(d)
		}
		sort.Strings(out)
		return out
	}
	g, w := key(got), key(want)
	if len(g) != len(w) {
		t.Errorf("%s: %d documents, want %d", ns, len(g), len(w))
		return
	}
	for i := range g {
		if g[i] != w[i] {
			t.Errorf("%s: documents differ:\n got  %s\n want %s", ns, bson.Raw(g[i]), bson.Raw(w[i]))
			return
		}
	}
}

// collections lists a database's collections on the target.
func collections(t *testing.T, c *mongo.Client, db string) []string {
	t.Helper()
	names, err := c.Database(db).ListCollectionNames(context.Background(), bson.D{})
	must(t, err)
	sort.Strings(names)
	return names
}

// indexes maps a collection's index names to whether each is unique.
func indexes(t *testing.T, c *mongo.Client, db, coll string) map[string]bool {
	t.Helper()
	ctx := context.Background()
	cur, err := c.Database(db).Collection(coll).Indexes().List(ctx)
	must(t, err)
	defer cur.Close(ctx)
	out := map[string]bool{}
	for cur.Next(ctx) {
		u, _ := cur.Current.Lookup("unique").BooleanOK()
		out[cur.Current.Lookup("name").StringValue()] = u
	}
	must(t, cur.Err())
	return out
}

// genDocs makes n documents of assorted types with _id 0..n-1.
func genDocs(t *testing.T, n int, tag string) []bson.Raw {
	t.Helper()
	out := make([]bson.Raw, n)
	for i := range n {
		out[i] = raw(t, bson.D{
			{Key: "_id", Value: int32(i)}, {Key: "tag", Value: tag}, {Key: "n", Value: int64(i) * 3},
			{Key: "f", Value: float64(i) / 4}, {Key: "s", Value: fmt.Sprintf("doc-%05d", i)},
			{Key: "sub", Value: bson.D{{Key: "z", Value: i % 7}, {Key: "a", Value: bson.A{int32(i), "x", nil}}}},
		})
	}
	return out
}
