package e2e

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tidelog/tidelog/internal/testserver"
)

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
	var file []byte
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
		raw, err := bson.Marshal(e)
		must(t, err)
		file = append(file, raw...)
	}
	path := filepath.Join(t.TempDir(), "oplog.bson")
	must(t, os.WriteFile(path, file, 0o644))

	coll := c.Database("d").Collection("c")
	_, err = coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "v", Value: 1}}, Options: options.Index().SetUnique(true).SetName("v_unique")})
	must(t, err)

	code, out, errOut := replayer(t, "apply", "--oplog-file", path, "--target", target.URI)
	m := regexp.MustCompile(`again with --after (\d+\.\d+)`).FindStringSubmatch(errOut)
	if code == 0 || m == nil {
		t.Fatalf("apply over a conflicting unique index: exit %d, no resume advice:\n%s%s", code, out, errOut)
	}
	if m[1] != "1700000000.1500" {
		t.Errorf("resume point %s, want 1700000000.1500 (the command, a barrier)", m[1])
	}

	err = coll.Indexes().DropOne(ctx, "v_unique") // the cause, fixed
	must(t, err)
	code, out, errOut = replayer(t, "apply", "--oplog-file", path, "--target", target.URI, "--after", m[1])
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
