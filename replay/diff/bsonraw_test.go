package diff

import (
	"bytes"
	"errors"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// allTypes has one element of every BSON type the driver can write.
func allTypes(tb testing.TB) bson.D {
	tb.Helper()
	oid, _ := bson.ObjectIDFromHex("0102030405060708090a0b0c")
	dec, err := bson.ParseDecimal128("1.25")
	if err != nil {
		tb.Fatal(err)
	}
	return bson.D{
		{Key: "double", Value: 1.5},
		{Key: "string", Value: "héllo"},
		{Key: "doc", Value: bson.D{{Key: "x", Value: int32(1)}}},
		{Key: "array", Value: bson.A{int32(1), "two"}},
		{Key: "binary", Value: bson.Binary{Subtype: 0x80, Data: []byte{1, 2, 3}}},
		{Key: "oldBinary", Value: bson.Binary{Subtype: 0x02, Data: []byte{1, 2}}},
		{Key: "undefined", Value: bson.Undefined{}},
		{Key: "oid", Value: oid},
		{Key: "bool", Value: true},
		{Key: "date", Value: bson.DateTime(1700000000000)},
		{Key: "null", Value: bson.Null{}},
		{Key: "regex", Value: bson.Regex{Pattern: "^a.*", Options: "i"}},
		{Key: "dbptr", Value: bson.DBPointer{DB: "db.coll", Pointer: oid}},
		{Key: "js", Value: bson.JavaScript("function(){}")},
		{Key: "symbol", Value: bson.Symbol("sym")},
		{Key: "jsScope", Value: bson.CodeWithScope{Code: "x", Scope: bson.D{{Key: "x", Value: int32(1)}}}},
		{Key: "int32", Value: int32(-7)},
		{Key: "timestamp", Value: bson.Timestamp{T: 1, I: 2}},
		{Key: "int64", Value: int64(1) << 40},
		{Key: "decimal", Value: dec},
		{Key: "minKey", Value: bson.MinKey{}},
		{Key: "maxKey", Value: bson.MaxKey{}},
	}
}

// TestAllTypesCopiedAndSet: every type is sized correctly, so untouched
// fields survive byte for byte, and any type can be an update value.
func TestAllTypesCopiedAndSet(t *testing.T) {
	fields := allTypes(t)
	pre, err := bson.Marshal(append(bson.D{{Key: "n", Value: int32(0)}}, fields...))
	if err != nil {
		t.Fatal(err)
	}
	// Set n to each value in turn, and also insert each one under a new name.
	var upd, ins bson.D
	for _, f := range fields {
		ins = append(ins, bson.E{Key: "new_" + f.Key, Value: f.Value})
	}
	upd = bson.D{{Key: "n", Value: bson.A{}}}
	d, err := bson.Marshal(bson.D{{Key: "u", Value: upd}, {Key: "i", Value: ins}})
	if err != nil {
		t.Fatal(err)
	}
	want, err := bson.Marshal(append(append(bson.D{{Key: "n", Value: bson.A{}}}, fields...), ins...))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Apply(pre, d)
	if err != nil {
		t.Fatal(err)
	}
	assertSameBytes(t, "all types", got, want)
}

// TestTruncatedValues: cutting any element's value short is reported as
// invalid BSON, never misread or panicking.
func TestTruncatedValues(t *testing.T) {
	diffDoc := mustDoc(t, `{"u": {"zz": 1}}`)
	for _, f := range allTypes(t) {
		typ, val, err := bson.MarshalValue(f.Value)
		if err != nil {
			t.Fatal(err)
		}
		whole := rawDoc(rawElem(byte(typ), f.Key, val))
		if _, err := Apply(whole, diffDoc); err != nil {
			t.Fatalf("%s: whole value rejected: %v", f.Key, err)
		}
		for cut := range len(val) {
			doc := rawDoc(rawElem(byte(typ), f.Key, val[:cut]))
			_, err := Apply(doc, diffDoc)
			if !errors.Is(err, ErrInvalidBSON) {
				t.Errorf("%s cut to %d of %d bytes: want invalid BSON, got %v", f.Key, cut, len(val), err)
			}
		}
	}
}

// TestTypeNames: error messages name types the way MongoDB does.
func TestTypeNames(t *testing.T) {
	for _, f := range allTypes(t) {
		typ, _, err := bson.MarshalValue(f.Value)
		if err != nil {
			t.Fatal(err)
		}
		if name := typeName(byte(typ)); bytes.HasPrefix([]byte(name), []byte("type 0x")) {
			t.Errorf("%s: no name for type 0x%02x", f.Key, byte(typ))
		}
	}
	if got := typeName(0x42); got != "type 0x42" {
		t.Errorf("unknown type named %q", got)
	}
}
