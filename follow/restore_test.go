package follow

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/replay"
)

// Killed during its initial restore — after committing "restoring" and
// after the restore wrote everything, but before it committed the restore
// as done — a follower drops exactly the namespaces that restore may have
// written and restores again: the target ends equal to the source, and a
// collection of the target's own, which the restore never writes, is kept.
func TestFollowRedoesInterruptedInitialRestore(t *testing.T) {
	for _, when := range []string{"before the writes", "after the writes"} {
		t.Run(when, func(t *testing.T) {
			fx := newFixture(t)
			ctx := context.Background()
			if _, err := fx.client.Database("own").Collection("keep").InsertOne(ctx, bson.D{{Key: "_id", Value: 1}}); err != nil {
				t.Fatal(err)
			}
			m := model{}
			fx.put(inserts(t, m, 1, 10)...)
			fx.put(upd(t, ts(T0, 11), 1, "one"), del(t, ts(T0, 12), 2))
			m[1] = "one"
			delete(m, 2)
			r := fx.start(func(o *Options) {
				if when == "before the writes" {
					o.afterInitialRecord = func() error { return errKilled }
				} else {
					o.afterInitialRestore = func() error { return errKilled }
				}
			})
			if _, err := r.wait(t); !errors.Is(err, errKilled) {
				t.Fatalf("kill during the initial restore: %v", err)
			}
			ck, err := OpenCheckpoint(fx.ckpt, fx.log.Logger())
			if err != nil {
				t.Fatal(err)
			}
			state, _, err := ck.Load()
			ck.Close()
			if err != nil || state.Phase != PhaseRestoring || strings.Join(state.Restore.Namespaces, ",") != "d.c" {
				t.Fatalf("checkpoint after the kill: %+v %v", state, err)
			}

			fx.put(ins(t, ts(T0, 13), 13, "v13"))
			m[13] = "v13"
			r = fx.start(nil)
			fx.waitThrough(r, ts(T0, 13))
			fx.check(m)
			if n, err := fx.client.Database("own").Collection("keep").CountDocuments(ctx, bson.D{}); err != nil || n != 1 {
				t.Errorf("the target's own collection: %d documents, %v", n, err)
			}
			if !strings.Contains(fx.log.String(), "initial restore was interrupted") {
				t.Errorf("the redo is not logged:\n%s", fx.log)
			}
		})
	}
}

// Like restore, the first start refuses a target that already holds what it
// would write, before writing anything, unless Drop.
func TestFollowRefusesOccupiedTarget(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	if _, err := fx.client.Database("d").Collection("c").InsertOne(ctx, bson.D{{Key: "_id", Value: int32(1)}, {Key: "v", Value: "theirs"}}); err != nil {
		t.Fatal(err)
	}
	m := model{}
	s1 := fx.put(inserts(t, m, 1, 3)...)
	r := fx.start(nil)
	_, err := r.wait(t)
	var ce *replay.ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("an occupied target: %v", err)
	}
	fx.check(model{1: "theirs"})
	r = fx.start(func(o *Options) { o.Drop = true })
	fx.waitThrough(r, s1.OpEnd)
	fx.check(m)
}
