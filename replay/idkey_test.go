package replay

import (
	"hash/maphash"
	"math"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func idValue(t *testing.T, v any) bson.RawValue {
	t.Helper()
	raw, err := bson.Marshal(bson.D{{Key: "_id", Value: v}})
	if err != nil {
		t.Fatal(err)
	}
	return bson.Raw(raw).Lookup("_id")
}

func idHash(seed maphash.Seed, v bson.RawValue) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	h.Write(appendIDKey(nil, v))
	return h.Sum64()
}

// _ids the server takes for one key must land in one partition and one
// state, or their entries are applied out of order; _ids it takes for two
// keys must never share a state, or one document overwrites another.
func TestIDKeysFollowServerEquality(t *testing.T) {
	dec := func(s string) bson.Decimal128 {
		d, err := bson.ParseDecimal128(s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	same := [][]any{
		{int32(1), int64(1), 1.0, dec("1"), dec("1.00"), dec("1E0")},
		{0.0, math.Copysign(0, -1), int32(0), dec("-0")},
		{math.NaN(), dec("NaN"), -math.NaN()},
		{int64(1) << 40, float64(int64(1) << 40)},
		{bson.D{{Key: "a", Value: int32(7)}, {Key: "b", Value: "x"}}, bson.D{{Key: "a", Value: 7.0}, {Key: "b", Value: "x"}}},
		{bson.A{int32(1), int64(2)}, bson.A{1.0, dec("2")}},
		{"abc", bson.Symbol("abc")},
		{0.5, dec("0.5"), dec("0.50000")},
		{dec("1.10"), dec("1.1"), dec("11E-1")},
		{math.Inf(1), dec("Infinity")},
		{int64(1<<53 + 1), dec("9007199254740993"), dec("9007199254740993.0")},
	}
	different := []any{
		int32(2), 1.5, "1", bson.D{{Key: "a", Value: int32(7)}}, bson.D{{Key: "b", Value: int32(7)}},
		bson.A{int32(1)}, bson.D{{Key: "a", Value: bson.D{{Key: "b", Value: int32(1)}}}},
		bson.D{{Key: "a", Value: bson.D{}}, {Key: "b", Value: int32(1)}}, true, bson.DateTime(1),
		0.1, dec("0.1"), // the double is not exactly one tenth
		int64(math.MaxInt64), float64(1 << 63), // 2^63 - 1 and 2^63
		float64(1 << 53), int64(1<<53 - 1), int64(1<<53 + 3),
		math.Inf(-1), dec("1E+400"), dec("1E-400"),
		// An exact decimal's text must not run into the next field's name.
		bson.D{{Key: "a", Value: dec("0.01")}, {Key: "", Value: int32(1)}},
		bson.D{{Key: "a", Value: dec("0.1")}, {Key: "0", Value: int32(1)}},
	}
	seed := maphash.MakeSeed()
	seen := map[string]any{}
	for _, class := range same {
		want := idHash(seed, idValue(t, class[0]))
		for _, v := range class[1:] {
			if got := idHash(seed, idValue(t, v)); got != want {
				t.Errorf("_id %v (%T) hashes apart from %v (%T), though the server takes them for one key", v, v, class[0], class[0])
			}
		}
		key := idKey(idValue(t, class[0]))
		for _, v := range class[1:] {
			if got := idKey(idValue(t, v)); got != key {
				t.Errorf("_id %v (%T) keyed apart from %v (%T), though the server takes them for one key", v, v, class[0], class[0])
			}
		}
		if prev, ok := seen[key]; ok {
			t.Errorf("%v and %v share a key", class[0], prev)
		}
		seen[key] = class[0]
	}
	for _, v := range different {
		key := idKey(idValue(t, v))
		if prev, ok := seen[key]; ok {
			t.Errorf("_id %v (%T) shares a key with %v (%T): two documents would merge into one", v, v, prev, prev)
		}
		seen[key] = v
	}
}

func BenchmarkHashID(b *testing.B) {
	seed := maphash.MakeSeed()
	raw, _ := bson.Marshal(bson.D{{Key: "_id", Value: bson.NewObjectID()}})
	oid := bson.Raw(raw).Lookup("_id")
	raw, _ = bson.Marshal(bson.D{{Key: "_id", Value: int64(123456)}})
	num := bson.Raw(raw).Lookup("_id")
	b.ReportAllocs()
	for b.Loop() {
		idHash(seed, oid)
		idHash(seed, num)
		_ = idKey(num)
	}
}
