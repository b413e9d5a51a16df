package follow

import (
	"context"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// A unique secondary index answers a put-back with the same duplicate-key
// error as a present document. Repair must tell them apart by _id: taking
// the conflict for "present" would leave the document absent for good.
func TestRepairRefusesUniqueIndexConflict(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	coll := fx.client.Database("shop").Collection("users")
	if _, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys: bson.D{{Key: "email", Value: 1}}, Options: options.Index().SetUnique(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := coll.InsertMany(ctx, []any{
		bson.D{{Key: "_id", Value: 1}, {Key: "email", Value: "a@x"}, {Key: "v", Value: 2}},
		bson.D{{Key: "_id", Value: 3}, {Key: "email", Value: "b@x"}},
	}); err != nil {
		t.Fatal(err)
	}
	raw := func(d bson.D) bson.Raw {
		b, err := bson.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	// _id 1 is present at a newer version: nothing to put back, and the
	// newer version stays.
	n, _, err := repair(ctx, fx.client, []preimage{{NS: "shop.users", Doc: raw(bson.D{{Key: "_id", Value: 1}, {Key: "email", Value: "a@x"}, {Key: "v", Value: 1}})}})
	if err != nil || n != 0 {
		t.Fatalf("present document: put back %d, err %v; want 0, nil", n, err)
	}
	var got bson.M
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: 1}}).Decode(&got); err != nil || got["v"] != int32(2) {
		t.Fatalf("present document changed: %v, %v", got, err)
	}

	// _id 2 is absent, and its email is taken by _id 3: a loud error, not "present".
	n, _, err = repair(ctx, fx.client, []preimage{{NS: "shop.users", Doc: raw(bson.D{{Key: "_id", Value: 2}, {Key: "email", Value: "b@x"}})}})
	if err == nil {
		t.Fatalf("unique-index conflict taken as present (put back %d)", n)
	}
	for _, want := range []string{"shop.users", "unique index", "start the follower again"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if c, _ := coll.CountDocuments(ctx, bson.D{{Key: "_id", Value: 2}}); c != 0 {
		t.Fatalf("document 2 present after a refused put-back")
	}
}

// A pre-image of a collection that no longer exists is not put back:
// inserting it would create the collection with that one document, for a
// resumed rename or a later create to act on. The namespace is reported.
func TestRepairNeverCreatesACollection(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	if _, err := fx.client.Database("d").Collection("here").InsertOne(ctx, bson.D{{Key: "_id", Value: 1}}); err != nil {
		t.Fatal(err)
	}
	doc, err := bson.Marshal(bson.D{{Key: "_id", Value: 2}, {Key: "v", Value: "journaled"}})
	if err != nil {
		t.Fatal(err)
	}
	n, gone, err := repair(ctx, fx.client, []preimage{{NS: "d.gone", Doc: doc}, {NS: "d.here", Doc: doc}, {NS: "d.gone", Doc: doc}})
	if err != nil || n != 1 || len(gone) != 1 || gone[0] != "d.gone" {
		t.Fatalf("repair: put back %d, gone %v, %v; want 1 put back (into d.here), d.gone reported", n, gone, err)
	}
	names, err := fx.client.Database("d").ListCollectionNames(ctx, bson.D{})
	if err != nil || len(names) != 1 || names[0] != "here" {
		t.Fatalf("collections of d after the repair: %v, %v; want only here", names, err)
	}
}
