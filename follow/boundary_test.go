package follow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/oplog"
)

// renameEntry is a renameCollection entry as MongoDB logs it on the source
// database's $cmd (shared/fixtures/oplog_schema.md): dropTarget is the
// replaced collection's UUID when one was replaced.
func renameEntry(t *testing.T, at oplog.Timestamp, from, to string, dropTarget bool) bson.Raw {
	uuid := func(b byte) bson.Binary { return bson.Binary{Subtype: 4, Data: bytes.Repeat([]byte{b}, 16)} }
	var drop any = false
	if dropTarget {
		drop = uuid(2)
	}
	return raw(t, bson.D{{Key: "op", Value: "c"}, {Key: "ns", Value: "d.$cmd"}, {Key: "ui", Value: uuid(1)},
		{Key: "o", Value: bson.D{{Key: "renameCollection", Value: from}, {Key: "to", Value: to}, {Key: "stayTemp", Value: false}, {Key: "dropTarget", Value: drop}}},
		{Key: "ts", Value: at.BSON()}, {Key: "t", Value: int64(1)}, {Key: "v", Value: int64(2)}})
}

// insIn and updIn are ins and upd on namespace ns.
func insIn(t *testing.T, ns string, at oplog.Timestamp, id int32, v string) bson.Raw {
	return raw(t, bson.D{{Key: "ts", Value: at.BSON()}, {Key: "op", Value: "i"}, {Key: "ns", Value: ns},
		{Key: "o", Value: bson.D{{Key: "_id", Value: id}, {Key: "v", Value: v}}}})
}

func updIn(t *testing.T, ns string, at oplog.Timestamp, id int32, v string) bson.Raw {
	return raw(t, bson.D{{Key: "ts", Value: at.BSON()}, {Key: "op", Value: "u"}, {Key: "ns", Value: ns},
		{Key: "o", Value: bson.D{{Key: "$v", Value: int32(1)}, {Key: "$set", Value: bson.D{{Key: "v", Value: v}}}}},
		{Key: "o2", Value: bson.D{{Key: "_id", Value: id}}}})
}

// Killed after it renamed d.c over e.b and before its commit, a follower
// restarts with e.b holding all of d.c. The pre-images of a cycle are by
// the names the collections had when it began: had the rename shared a
// cycle with the updates before it, the restart would put d.c's journaled
// document back into a new d.c, and e.b's into the renamed e.b, and the
// rename applied again would replace e.b with that one document. (Across
// databases: FerretDB renames within one only without dropTarget, which
// replay always sets; across them replay copies, as for any such target.)
func TestFollowKilledAfterRenameKeepsTheRenamedCollection(t *testing.T) {
	fx := newFixture(t)
	m := model{}
	var entries []bson.Raw
	for i := int32(1); i <= 5; i++ {
		entries = append(entries, ins(t, ts(T0, uint32(i)), i, fmt.Sprintf("v%d", i)))
		m[i] = fmt.Sprintf("v%d", i)
	}
	entries = append(entries, insIn(t, "e.b", ts(T0, 6), 100, "old b"))
	s1 := fx.put(entries...)
	rename := ts(T0, 9)
	var kill atomic.Bool
	r := fx.start(func(o *Options) {
		o.beforeCommit = func(s State) error {
			if kill.Load() && !s.Through.Before(rename) {
				return errKilled
			}
			return nil
		}
	})
	fx.waitThrough(r, s1.OpEnd)

	kill.Store(true)
	s2 := fx.put(upd(t, ts(T0, 7), 1, "one"), updIn(t, "e.b", ts(T0, 8), 100, "old b changed"), renameEntry(t, rename, "d.c", "e.b", true))
	m[1] = "one"
	if _, err := r.wait(t); !errors.Is(err, errKilled) {
		t.Fatalf("the follower was to be killed after the rename, before its commit: %v\n%s", err, fx.log)
	}
	if got := fx.docsIn("e.b"); fmt.Sprint(got) != fmt.Sprint(m.want()) {
		t.Fatalf("e.b after the rename: %v, want %v", got, m.want())
	}

	r = fx.start(nil)
	fx.waitThrough(r, s2.OpEnd)
	if got := fx.docsIn("e.b"); fmt.Sprint(got) != fmt.Sprint(m.want()) {
		t.Fatalf("e.b after the restart:\n got  %v\n want %v (all of d.c, renamed)\n%s", got, m.want(), fx.log)
	}
	names, err := fx.client.Database("d").ListCollectionNames(context.Background(), bson.D{})
	if err != nil || slices.Contains(names, "c") {
		t.Fatalf("collections of d after the restart: %v, %v; d.c was renamed away and must stay gone", names, err)
	}
}
