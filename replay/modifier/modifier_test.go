package modifier

import (
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func raw(t *testing.T, v any) bson.Raw {
	t.Helper()
	b, err := bson.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func doc(t *testing.T, json string) bson.D {
	t.Helper()
	var d bson.D
	if err := bson.UnmarshalExtJSON([]byte(json), true, &d); err != nil {
		t.Fatalf("%s: %v", json, err)
	}
	return d
}

func TestApply(t *testing.T) {
	cases := []struct{ pre, o, post string }{
		{`{"_id":1,"a":1,"b":2}`, `{"$v":1,"$set":{"a":5}}`, `{"_id":1,"a":5,"b":2}`},
		{`{"_id":1,"a":1}`, `{"$set":{"c":"x"}}`, `{"_id":1,"a":1,"c":"x"}`},
		{`{"_id":1,"a":{"b":1,"c":2}}`, `{"$set":{"a.c":3,"a.d":4}}`, `{"_id":1,"a":{"b":1,"c":3,"d":4}}`},
		{`{"_id":1}`, `{"$set":{"x.y.z":true}}`, `{"_id":1,"x":{"y":{"z":true}}}`},
		{`{"_id":1,"arr":[1,2]}`, `{"$set":{"arr.1":9}}`, `{"_id":1,"arr":[1,9]}`},
		{`{"_id":1,"arr":[1]}`, `{"$set":{"arr.3":4}}`, `{"_id":1,"arr":[1,null,null,4]}`},
		{`{"_id":1,"arr":[{"a":1},{"a":2}]}`, `{"$set":{"arr.1.a":{"$numberLong":"7"}}}`, `{"_id":1,"arr":[{"a":1},{"a":{"$numberLong":"7"}}]}`},
		{`{"_id":1,"a":1,"b":2}`, `{"$unset":{"a":true}}`, `{"_id":1,"b":2}`},
		{`{"_id":1,"a":{"b":1,"c":2}}`, `{"$unset":{"a.b":1},"$set":{"z":0}}`, `{"_id":1,"a":{"c":2},"z":0}`},
		{`{"_id":1,"arr":[1,2,3]}`, `{"$unset":{"arr.1":true}}`, `{"_id":1,"arr":[1,null,3]}`},
		{`{"_id":1}`, `{"$unset":{"missing.path":true}}`, `{"_id":1}`},
		// FerretDB's shape: the whole new document as $set, _id included.
		{`{"_id":1,"a":1,"n":{"x":1}}`, `{"$v":1,"$set":{"_id":1,"a":2,"n":{"x":1,"y":"z"}}}`, `{"_id":1,"a":2,"n":{"x":1,"y":"z"}}`},
	}
	for _, c := range cases {
		got, err := Apply(doc(t, c.pre), raw(t, doc(t, c.o)))
		if err != nil {
			t.Errorf("%s + %s: %v", c.pre, c.o, err)
			continue
		}
		if g, w := bson.Raw(raw(t, got)).String(), bson.Raw(raw(t, doc(t, c.post))).String(); g != w {
			t.Errorf("%s + %s\n got  %s\n want %s", c.pre, c.o, g, w)
		}
		// Applying the same update again changes nothing (oplog idempotence).
		again, err := Apply(got, raw(t, doc(t, c.o)))
		if err != nil || bson.Raw(raw(t, again)).String() != bson.Raw(raw(t, got)).String() {
			t.Errorf("%s applied twice differs: %v", c.o, err)
		}
	}
}

func TestApplyErrors(t *testing.T) {
	for _, o := range []string{`{"$inc":{"a":1}}`, `{"$set":{"a.b":1}}`, `{"$set":{"arr.x":1}}`, `{"$set":5}`} {
		pre := doc(t, `{"_id":1,"a":5,"arr":[1]}`)
		if _, err := Apply(pre, raw(t, doc(t, o))); err == nil {
			t.Errorf("%s: no error", o)
		}
	}
}

func TestIsModifier(t *testing.T) {
	for o, want := range map[string]bool{`{"$v":1,"$set":{"a":1}}`: true, `{"_id":1,"a":1}`: false, `{"$set":{"a":1}}`: true} {
		got, err := IsModifier(raw(t, doc(t, o)))
		if err != nil || got != want {
			t.Errorf("IsModifier(%s) = %v, %v", o, got, err)
		}
	}
}
