package replay

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/internal/testserver"
)

// scenario is one of mongo-tools' transaction fixtures: oplog entries and the
// collection's expected contents after replaying them.
type scenario struct {
	Ops       []json.RawMessage `json:"ops"`
	NS        string            `json:"ns"`
	Postimage []json.RawMessage `json:"postimage"`
}

func loadScenarios(t *testing.T, rel string) map[string]scenario {
	t.Helper()
	path := filepath.Join(testserver.RepoRoot(), "..", "shared", "fixtures", "mongo-tools", rel)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("fixture %s: %v", path, err)
	}
	var out map[string]scenario
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("fixture %s: %v", path, err)
	}
	return out
}

func extJSON(t *testing.T, m json.RawMessage) bson.Raw {
	t.Helper()
	var d bson.D
	if err := bson.UnmarshalExtJSON(m, false, &d); err != nil {
		t.Fatalf("ext JSON %s: %v", m, err)
	}
	b, err := bson.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Every transaction scenario of mongo-tools' fixtures (unprepared, partialTxn
// chains, prepared then committed or aborted, incomplete, applyOps and
// vectored writes that are not transactions, $v:2 updates in 6.1) replayed
// onto a real server gives the expected postimage.
func TestTransactionFixturesOnServer(t *testing.T) {
	srv := testserver.StartT(t, testserver.Options{NoOplog: true})
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(context.Background())
	ctx := context.Background()
	files := []string{"mongorestore/testdata/transactions.json", "mongorestore/testdata/transactions-6.1.json", "common/txn/testdata/oplog_entries.json"}
	total := 0
	for fi, file := range files {
		for name, sc := range loadScenarios(t, file) {
			total++
			t.Run(filepath.Base(file)+"/"+name, func(t *testing.T) {
				// Each scenario gets its own database so leftovers cannot mask a failure.
				db, coll, _ := strings.Cut(sc.NS, ".")
				if db == "admin" {
					db = "test" // the vectored-insert scenario writes test.foo through admin.$cmd
				}
				target := db + "_" + string(rune('a'+fi))
				ns, err := NewNamespaces(nil, nil, []string{db + ".*"}, []string{target + ".*"})
				if err != nil {
					t.Fatal(err)
				}
				a := NewApplier(c, Options{Namespaces: ns}, zerolog.Nop())
				for _, op := range sc.Ops {
					if err := a.Apply(ctx, extJSON(t, op)); err != nil {
						t.Fatal(err)
					}
				}
				if err := a.Finish(ctx); err != nil {
					t.Fatal(err)
				}
				if strings.HasSuffix(sc.NS, ".$cmd") {
					// No postimage: a vectored insert (multiOpType 1) into test.foo,
					// applied immediately although it carries lsid and txnNumber.
					n, err := c.Database(target).Collection("foo").CountDocuments(ctx, bson.D{})
					if err != nil || n != 2 || a.Stats().Inserts != 2 {
						t.Errorf("vectored insert left %d documents (%v), want 2", n, err)
					}
					return
				}
				var want []string
				for _, p := range sc.Postimage {
					want = append(want, extJSON(t, p).String())
				}
				sort.Strings(want)
				cur, err := c.Database(target).Collection(coll).Find(ctx, bson.D{})
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for cur.Next(ctx) {
					got = append(got, cur.Current.String())
				}
				sort.Strings(got)
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("%s after replay:\n got  %v\n want %v", sc.NS, got, want)
				}
				c.Database(target).Drop(ctx)
			})
		}
	}
	if total < 30 {
		t.Fatalf("only %d scenarios found; the fixtures hold 32", total)
	}
}
