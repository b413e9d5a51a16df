package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tidelog/tidelog/internal/testserver"
)

// writeOplogFile writes entries as an oplog.bson file, as mongodump does,
// and returns its path.
func writeOplogFile(t *testing.T, entries []bson.D) string {
	t.Helper()
	var file []byte
	for _, e := range entries {
		raw, err := bson.Marshal(e)
		must(t, err)
		file = append(file, raw...)
	}
	path := filepath.Join(t.TempDir(), "oplog.bson")
	must(t, os.WriteFile(path, file, 0o644))
	return path
}

// uniqueV creates the unique index v_unique on coll's field v: the target
// then refuses a document that repeats a v, and a replay stops there.
func uniqueV(ctx context.Context, t *testing.T, coll *mongo.Collection) {
	t.Helper()
	_, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "v", Value: 1}}, Options: options.Index().SetUnique(true).SetName("v_unique")})
	must(t, err)
}

// A replay that fails halfway (here a unique index on the target rejects a
// document) stops with a resume point and tells how to go on; once the
// cause is fixed, `--after` finishes it, and the target then holds exactly
// what the oplog implies.
func TestApplyStopsAndResumes(t *testing.T) {
	ctx := context.Background()
	target := testserver.StartT(t, testserver.Options{NoOplog: true})
	c, err := target.Client()
	must(t, err)
	defer c.Disconnect(ctx)

	// 3,000 inserts into d.c with v = _id, a command half way (a barrier:
	// everything before it is written), and at 2,500 a v that repeats 1.
	var entries []bson.D
	want := map[int32]int32{}
	for i := int32(1); i <= 3000; i++ {
		ts := bson.Timestamp{T: 1700000000, I: uint32(i)}
		var e bson.D
		if i == 1500 {
			e = bson.D{{Key: "ts", Value: ts}, {Key: "op", Value: "c"}, {Key: "ns", Value: "d.$cmd"},
				{Key: "o", Value: bson.D{{Key: "create", Value: "other"}}}}
		} else {
			v := i
			if i == 2500 {
				v = 1
			}
			want[i] = v
			e = bson.D{{Key: "ts", Value: ts}, {Key: "op", Value: "i"}, {Key: "ns", Value: "d.c"},
				{Key: "o", Value: bson.D{{Key: "_id", Value: i}, {Key: "v", Value: v}}}}
		}
		entries = append(entries, e)
	}
	path := writeOplogFile(t, entries)

	coll := c.Database("d").Collection("c")
	uniqueV(ctx, t, coll)

	code, out, errOut := replayer(t, "apply", "--oplog-file", path, "--target", target.URI)
	resume := resumeAdvice(errOut)
	if code == 0 || resume == nil {
		t.Fatalf("apply over a conflicting unique index: exit %d, no resume advice:\n%s%s", code, out, errOut)
	}
	if resume[1] != "1700000000.1500" {
		t.Errorf("resume point %s, want 1700000000.1500 (the command, a barrier)", resume[1])
	}

	err = coll.Indexes().DropOne(ctx, "v_unique") // the cause, fixed
	must(t, err)
	code, out, errOut = replayer(t, append([]string{"apply", "--oplog-file", path, "--target", target.URI}, resume...)...)
	if code != 0 {
		t.Fatalf("resumed apply: exit %d\n%s%s", code, out, errOut)
	}
	if !regexp.MustCompile(`resumed: 1500 entries`).MatchString(out) {
		t.Errorf("the summary does not say what was skipped as applied:\n%s", out)
	}
	cur, err := coll.Find(ctx, bson.D{})
	must(t, err)
	got := map[int32]int32{}
	for cur.Next(ctx) {
		got[cur.Current.Lookup("_id").Int32()] = cur.Current.Lookup("v").Int32()
	}
	must(t, cur.Err())
	if len(got) != len(want) {
		t.Errorf("%d documents, want %d", len(got), len(want))
	}
	for id, v := range want {
		if got[id] != v {
			t.Errorf("_id %d: v %d, want %d", id, got[id], v)
		}
	}
}

// resumeAdvice is the resume flags a stopped replay printed ("again with
// --after A" and, when it wrote more than its resume point, "--written W"),
// as arguments for the same command; nil without advice.
func resumeAdvice(errOut string) []string {
	m := regexp.MustCompile(`again with --after (\d+\.\d+)(?: --written (\d+\.\d+))?`).FindStringSubmatch(errOut)
	switch {
	case m == nil:
		return nil
	case m[2] == "":
		return []string{"--after", m[1]}
	}
	return []string{"--after", m[1], "--written", m[2]}
}

// A replay that stops while a transaction is open resumes from before it,
// but the target holds more: here a rename of d.a to d.b and a new d.a.
// The advice names both positions, and the resumed run does not rename
// again (which would replace d.b, the renamed data, with the new d.a): the
// target ends as an uninterrupted replay leaves it.
func TestApplyResumesWithWrittenAfterRename(t *testing.T) {
	ctx := context.Background()
	target := testserver.StartT(t, testserver.Options{NoOplog: true})
	c, err := target.Client()
	must(t, err)
	defer c.Disconnect(ctx)

	at := func(i uint32) bson.Timestamp { return bson.Timestamp{T: 1700000000, I: i} }
	doc := func(id int32, v string) bson.D { return bson.D{{Key: "_id", Value: id}, {Key: "v", Value: v}} }
	plain := func(i uint32, op, ns string, o bson.D) bson.D {
		return bson.D{{Key: "ts", Value: at(i)}, {Key: "op", Value: op}, {Key: "ns", Value: ns}, {Key: "o", Value: o}}
	}
	txn := func(i, prev uint32, last bool, id int32) bson.D {
		o := bson.D{{Key: "applyOps", Value: bson.A{bson.D{{Key: "op", Value: "i"}, {Key: "ns", Value: "d.t"}, {Key: "o", Value: doc(id, "txn")}}}}}
		if last {
			o = append(o, bson.E{Key: "count", Value: int64(2)})
		} else {
			o = append(o, bson.E{Key: "partialTxn", Value: true})
		}
		prevTS := bson.Timestamp{}
		if prev > 0 {
			prevTS = at(prev)
		}
		return bson.D{
			{Key: "lsid", Value: bson.D{{Key: "id", Value: bson.Binary{Subtype: 4, Data: bytes.Repeat([]byte{7}, 16)}}}},
			{Key: "txnNumber", Value: int64(1)}, {Key: "op", Value: "c"}, {Key: "ns", Value: "admin.$cmd"}, {Key: "o", Value: o},
			{Key: "ts", Value: at(i)}, {Key: "prevOpTime", Value: bson.D{{Key: "ts", Value: prevTS}, {Key: "t", Value: int64(1)}}},
		}
	}
	path := writeOplogFile(t, []bson.D{
		plain(1, "i", "d.a", doc(1, "a1")),
		plain(2, "i", "d.a", doc(2, "a2")),
		txn(3, 0, false, 100), // open until 8: the resume point stays at 2
		plain(4, "c", "admin.$cmd", bson.D{{Key: "renameCollection", Value: "d.a"}, {Key: "to", Value: "d.b"}, {Key: "stayTemp", Value: false}}),
		plain(5, "i", "d.a", doc(3, "new a")),
		plain(6, "i", "d.c", doc(1, "same")),
		plain(7, "i", "d.c", doc(2, "same")), // refused by the target's unique index
		txn(8, 3, true, 101),
		append(plain(9, "u", "d.b", bson.D{{Key: "$v", Value: int32(1)}, {Key: "$set", Value: bson.D{{Key: "v", Value: "a1 later"}}}}),
			bson.E{Key: "o2", Value: bson.D{{Key: "_id", Value: int32(1)}}}),
	})
	cc := c.Database("d").Collection("c")
	uniqueV(ctx, t, cc)

	code, out, errOut := replayer(t, "apply", "--oplog-file", path, "--target", target.URI)
	resume := resumeAdvice(errOut)
	if code == 0 || len(resume) != 4 || resume[1] != "1700000000.2" || resume[3] != "1700000000.4" {
		t.Fatalf("apply stopped with a transaction open across a rename: exit %d, resume %q; want --after 1700000000.2 --written 1700000000.4:\n%s%s", code, resume, out, errOut)
	}
	must(t, cc.Indexes().DropOne(ctx, "v_unique")) // the cause, fixed
	code, out, errOut = replayer(t, append([]string{"apply", "--oplog-file", path, "--target", target.URI}, resume...)...)
	if code != 0 {
		t.Fatalf("resumed apply: exit %d\n%s%s", code, out, errOut)
	}
	contents := func(coll string) string {
		cur, err := c.Database("d").Collection(coll).Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
		must(t, err)
		var docs []string
		for cur.Next(ctx) {
			docs = append(docs, fmt.Sprintf("%d:%s", cur.Current.Lookup("_id").Int32(), cur.Current.Lookup("v").StringValue()))
		}
		must(t, cur.Err())
		return strings.Join(docs, " ")
	}
	for coll, want := range map[string]string{"a": "3:new a", "b": "1:a1 later 2:a2", "c": "1:same 2:same", "t": "100:txn 101:txn"} {
		if got := contents(coll); got != want {
			t.Errorf("d.%s holds %q, want %q", coll, got, want)
		}
	}
}
