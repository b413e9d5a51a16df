package diff

import (
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// benchDoc is a realistic ~1 KiB document: an _id, scalars of several
// types, a nested profile with an address, a tag array and an array of
// order sub-documents.
func benchDoc(tb testing.TB) bson.Raw {
	tb.Helper()
	oid, _ := bson.ObjectIDFromHex("65f1c0ffee0000000000abcd")
	orders := bson.A{}
	for i := range 6 {
		orders = append(orders, bson.D{
			{Key: "sku", Value: "SKU-000" + string(rune('0'+i))},
			{Key: "qty", Value: int32(i + 1)},
			{Key: "price", Value: 19.99 + float64(i)},
			{Key: "shipped", Value: i%2 == 0},
		})
	}
	doc := bson.D{
		{Key: "_id", Value: oid},
		{Key: "email", Value: "jane.doe@example.com"},
		{Key: "name", Value: "Jane Doe"},
		{Key: "createdAt", Value: bson.DateTime(time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC).UnixMilli())},
		{Key: "visits", Value: int64(1234)},
		{Key: "score", Value: 87.5},
		{Key: "active", Value: true},
		{Key: "profile", Value: bson.D{
			{Key: "bio", Value: "Backend engineer who likes databases, backups and long walks through oplogs."},
			{Key: "address", Value: bson.D{
				{Key: "street", Value: "42 Tide Lane"},
				{Key: "city", Value: "Portsmouth"},
				{Key: "zip", Value: "PO1 2AB"},
				{Key: "country", Value: "UK"},
			}},
			{Key: "preferences", Value: bson.D{{Key: "newsletter", Value: false}, {Key: "theme", Value: "dark"}}},
		}},
		{Key: "tags", Value: bson.A{"admin", "beta", "ops", "oncall"}},
		{Key: "orders", Value: orders},
		{Key: "notes", Value: "Prefers email contact; escalations go to the on-call rota."},
	}
	raw, err := bson.Marshal(doc)
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

// benchDiff touches the document the way a typical modifier update does:
// $set of a scalar and of a nested field, $inc, $unset, $push onto an array,
// a field change inside one array element, and a new field.
const benchDiffJSON = `{
	"d": {"notes": false},
	"u": {"visits": {"$numberLong": "1235"}, "score": 88.0},
	"i": {"lastLogin": {"$numberLong": "1711111111000"}},
	"sprofile": {"saddress": {"u": {"city": "Southampton"}}},
	"stags": {"a": true, "u4": "vip"},
	"sorders": {"a": true, "s2": {"u": {"shipped": true}}}
}`

func BenchmarkApply(b *testing.B) {
	pre := benchDoc(b)
	d := mustDoc(b, benchDiffJSON)
	b.Logf("pre-image %d bytes, diff %d bytes", len(pre), len(d))
	b.SetBytes(int64(len(pre)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Apply(pre, d); err != nil {
			b.Fatal(err)
		}
	}
}
