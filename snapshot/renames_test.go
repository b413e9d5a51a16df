package snapshot

import (
	"errors"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/oplog"
)

func renameEntry(t *testing.T, ts uint32, from, to string) bson.D {
	t.Helper()
	return bson.D{
		{Key: "ts", Value: bson.Timestamp{T: ts, I: 1}},
		{Key: "op", Value: "c"},
		{Key: "ns", Value: "db.$cmd"},
		{Key: "o", Value: bson.D{{Key: "renameCollection", Value: from}, {Key: "to", Value: to}, {Key: "stayTemp", Value: false}, {Key: "dropTarget", Value: false}}},
	}
}

func mustRaw(t *testing.T, v any) bson.Raw {
	t.Helper()
	b, err := bson.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func createEntry(t *testing.T, ts uint32, db, coll string) bson.D {
	t.Helper()
	return bson.D{
		{Key: "ts", Value: bson.Timestamp{T: ts, I: 1}},
		{Key: "op", Value: "c"},
		{Key: "ns", Value: db + ".$cmd"},
		{Key: "o", Value: bson.D{{Key: "create", Value: coll}}},
	}
}

func TestRenamesThatSpoilASnapshot(t *testing.T) {
	copied := map[string]bool{"db.a": true, "db.b": true}
	inApplyOps := bson.D{
		{Key: "ts", Value: bson.Timestamp{T: 30, I: 2}},
		{Key: "op", Value: "c"},
		{Key: "ns", Value: "admin.$cmd"},
		{Key: "o", Value: bson.D{{Key: "applyOps", Value: bson.A{
			bson.D{{Key: "op", Value: "i"}, {Key: "ns", Value: "db.a"}, {Key: "o", Value: bson.D{{Key: "_id", Value: 1}}}},
			bson.D{{Key: "op", Value: "c"}, {Key: "ns", Value: "db.$cmd"}, {Key: "o", Value: bson.D{{Key: "renameCollection", Value: "db.b"}, {Key: "to", Value: "other.b"}}}},
		}}}},
	}
	for _, tc := range []struct {
		name     string
		entries  []bson.D
		from, to string
		at       oplog.Timestamp
	}{
		{"rename of a copied collection", []bson.D{renameEntry(t, 10, "db.a", "db.z")}, "db.a", "db.z", oplog.Timestamp{T: 10, I: 1}},
		{"rename onto a copied collection of one created in the window ($out)",
			[]bson.D{createEntry(t, 9, "db", "tmp.agg_out.1"), renameEntry(t, 11, "db.tmp.agg_out.1", "db.a")}, "", "", oplog.Timestamp{}},
		{"rename onto a copied collection of one that existed before the start",
			[]bson.D{renameEntry(t, 11, "db.old", "db.a")}, "db.old", "db.a", oplog.Timestamp{T: 11, I: 1}},
		{"create after the rename does not count",
			[]bson.D{renameEntry(t, 11, "db.old", "db.a"), createEntry(t, 12, "db", "old")}, "db.old", "db.a", oplog.Timestamp{T: 11, I: 1}},
		{"rename nested in applyOps", []bson.D{inApplyOps}, "db.b", "other.b", oplog.Timestamp{T: 30, I: 2}},
		{"rename between collections the copy does not hold", []bson.D{renameEntry(t, 13, "db.x", "db.y")}, "", "", oplog.Timestamp{}},
		{"another command", []bson.D{{{Key: "ts", Value: bson.Timestamp{T: 12, I: 1}}, {Key: "op", Value: "c"}, {Key: "o", Value: bson.D{{Key: "drop", Value: "a"}}}}}, "", "", oplog.Timestamp{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w window
			for _, e := range tc.entries {
				w.add(mustRaw(t, e))
			}
			err := w.spoiled(copied)
			if tc.from == "" {
				if err != nil {
					t.Fatalf("spoiled = %v, want nil", err)
				}
				return
			}
			var re *RenamedError
			if !errors.As(err, &re) || !errors.Is(err, ErrRenamed) {
				t.Fatalf("spoiled = %v, want a *RenamedError", err)
			}
			if re.From != tc.from || re.To != tc.to || re.At != tc.at {
				t.Fatalf("spoiled = %+v, want %s -> %s at %s", re, tc.from, tc.to, tc.at)
			}
		})
	}
}

// TestCheckRenamesReadsTheWindow puts rename entries into a real server's
// oplog and checks that only one inside (start, end] of a listed
// collection fails the snapshot.
func TestCheckRenamesReadsTheWindow(t *testing.T) {
	e := newEnv(t)
	ctx := testCtx(t)
	src, err := openSource(ctx, e.client)
	if err != nil {
		t.Fatal(err)
	}
	oplogColl := e.client.Database("local").Collection("oplog.rs")
	const base = 2_000_000_000 // after any entry the server writes itself
	for _, doc := range []bson.D{
		renameEntry(t, base+1, "db.a", "db.early"), // at start: not in the window
		renameEntry(t, base+2, "db.fresh", "db.x"), // not listed
		renameEntry(t, base+3, "db.a", "db.late"),  // the one
		renameEntry(t, base+5, "db.a", "db.after"), // after end
	} {
		if _, err := oplogColl.InsertOne(ctx, doc); err != nil {
			t.Fatal(err)
		}
	}
	listed := []Collection{{NS: "db.a", Type: TypeCollection}}
	ts := func(sec uint32) oplog.Timestamp { return oplog.Timestamp{T: sec, I: 1} }

	if err := src.checkRenames(ctx, ts(base+1), ts(base+2), listed); err != nil {
		t.Fatalf("window without a rename of a listed collection: %v", err)
	}
	err = src.checkRenames(ctx, ts(base+1), ts(base+4), listed)
	var re *RenamedError
	if !errors.As(err, &re) || re.To != "db.late" {
		t.Fatalf("checkRenames = %v, want the rename to db.late", err)
	}
	// A start the server's oplog no longer reaches: the window cannot be read whole.
	err = src.checkRenames(ctx, oplog.Timestamp{T: 1, I: 1}, ts(base+2), listed)
	if err == nil || errors.As(err, &re) || !strings.Contains(err.Error(), "no longer reaches back") {
		t.Fatalf("checkRenames from before the oldest entry = %v, want a refusal", err)
	}
}
