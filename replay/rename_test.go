package replay

import (
	"context"
	"testing"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/internal/testserver"
)

// A rename inside one database, over an existing collection (the source
// logs dropTarget) and onto a free name, replays on FerretDB too, which
// does not implement renameCollection's dropTarget; twice, since a resumed
// replay repeats it.
func TestRenameWithinADatabase(t *testing.T) {
	srv := testserver.StartT(t, testserver.Options{NoOplog: true})
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(context.Background())
	uuid := bson.Binary{Subtype: 4, Data: make([]byte, 16)}
	log := []bson.Raw{
		cmd(t, 1, "shop", bson.D{{Key: "create", Value: "staging"}}),
		entry(t, 2, "i", "shop.staging", bson.D{{Key: "_id", Value: int32(1)}, {Key: "v", Value: "new"}}, nil),
		entry(t, 3, "i", "shop.staging", bson.D{{Key: "_id", Value: int32(2)}, {Key: "v", Value: "new"}}, nil),
		cmd(t, 4, "shop", bson.D{{Key: "create", Value: "live"}}),
		entry(t, 5, "i", "shop.live", bson.D{{Key: "_id", Value: int32(1)}, {Key: "v", Value: "old"}}, nil),
		cmd(t, 6, "admin", bson.D{{Key: "renameCollection", Value: "shop.staging"}, {Key: "to", Value: "shop.live"}, {Key: "stayTemp", Value: false}, {Key: "dropTarget", Value: uuid}}),
		cmd(t, 7, "admin", bson.D{{Key: "renameCollection", Value: "shop.live"}, {Key: "to", Value: "shop.current"}, {Key: "stayTemp", Value: false}}),
	}
	for round := range 2 {
		a := NewApplier(c, Options{}, zerolog.Nop())
		applyAll(t, a, log)
		if err := a.Finish(context.Background()); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if got := collections(t, c, "shop"); len(got) != 1 || got[0] != "current" {
			t.Errorf("round %d: shop holds %v, want [current]", round, got)
		}
		n, _ := c.Database("shop").Collection("current").CountDocuments(context.Background(), bson.D{{Key: "v", Value: "new"}})
		all, _ := c.Database("shop").Collection("current").CountDocuments(context.Background(), bson.D{})
		if n != 2 || all != 2 {
			t.Errorf("round %d: shop.current holds %d documents, %d of them the renamed ones; want 2 and 2", round, all, n)
		}
	}
}
