package diff

import (
	"bytes"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// mustDoc converts strict JSON to BSON with C++ fromjson() number rules
// (integer literals are int32).
func mustDoc(tb testing.TB, s string) bson.Raw {
	tb.Helper()
	doc, err := jsonToBSON([]byte(s), numbersCxx)
	if err != nil {
		tb.Fatalf("bad test JSON %s: %v", s, err)
	}
	return doc
}

// TestApplySemantics covers behaviour the fixture file does not: the other
// cases of MongoDB's document_diff_applier_test.cpp (noted "server:"), and
// rules derived from the applier's structure. Every case is also checked
// for idempotence, as the server's checkDiff does.
func TestApplySemantics(t *testing.T) {
	const (
		arrSubDiff = `{"d": {"dFieldA": false, "dFieldB": false}, "u": {"uField": 999},
			"sarr": {"a": true, "s1": {"u": {"a": 1}}, "s2": {"u": {"b": 2}}, "s3": {"u": {"c": 3}}, "u4": {"x": 1}}}`
		arrNonContig = `{"sarr": {"a": true, "u1": 997, "u2": {"newVal": 998}, "u5": 999}}`
		nestedScalar = `{"ssubObj": {"ssubObj": {"u": {"a": 1}}}}`
		binAppend    = `{"b": {"b1": {"o": 3, "d": {"$binary": {"base64": "ZGVm", "subType": "00"}}}}}`
		binShrink    = `{"b": {"b1": {"o": 1, "d": {"$binary": {"base64": "eA==", "subType": "00"}}}}}`
		binABC       = `{"$binary": {"base64": "YWJj", "subType": "07"}}`
	)
	tests := []struct {
		name, pre, diff, post string
	}{
		// server: NestedSubObjUpdateScalar, field absent => no-op.
		{"server/subdiff on missing field", `{"someOtherField": 1}`, nestedScalar, `{"someOtherField": 1}`},
		// server: UpdateArrayOfObjectsSubDiff, remaining cases.
		{"server/array objects match",
			`{"uField": 1, "dFieldA": 1, "arr": [null, {"a": 0}, {"b": 0}, {"c": 0}], "dFieldB": 1}`, arrSubDiff,
			`{"uField": 999, "arr": [null, {"a": 1}, {"b": 2}, {"c": 3}, {"x": 1}]}`},
		{"server/array objects noop",
			`{"arr": [null, {"a": 1}, {"b": 2}, {"c": 3}, {"x": 1}], "uField": 999}`, arrSubDiff,
			`{"arr": [null, {"a": 1}, {"b": 2}, {"c": 3}, {"x": 1}], "uField": 999}`},
		{"server/array too short",
			`{"arr": [], "uField": 1}`, arrSubDiff,
			`{"arr": [null, null, null, null, {"x": 1}], "uField": 999}`},
		{"server/array diff on scalar",
			`{"dummyA": 1, "arr": 1, "dummyB": 1}`, arrSubDiff,
			`{"dummyA": 1, "arr": null, "dummyB": 1, "uField": 999}`},
		// server: UpdateArrayOfObjectsWithUpdateOperationNonContiguous.
		{"server/noncontiguous match",
			`{"arr": [null, {}, {}, {}, {}, {}]}`, arrNonContig,
			`{"arr": [null, 997, {"newVal": 998}, {}, {}, 999]}`},
		{"server/noncontiguous noop",
			`{"arr": [{}, 997, {"newVal": 998}, {}, {}, 999]}`, arrNonContig,
			`{"arr": [{}, 997, {"newVal": 998}, {}, {}, 999]}`},
		{"server/noncontiguous sub-arrays",
			`{"arr": [0, 1, [], [], ["a", "b"], 5, 6]}`, arrNonContig,
			`{"arr": [0, 997, {"newVal": 998}, [], ["a", "b"], 999, 6]}`},
		{"server/noncontiguous objects",
			`{"arr": [0, {"x": 1}, 2, 3, {"x": 1}, 5, 6]}`, arrNonContig,
			`{"arr": [0, 997, {"newVal": 998}, 3, {"x": 1}, 999, 6]}`},
		{"server/noncontiguous on object", `{"arr": {"x": 1}}`, arrNonContig, `{"arr": null}`},
		{"server/noncontiguous on string", `{"arr": "scalar!"}`, arrNonContig, `{"arr": null}`},
		// server: SubArrayDiffSimpleWithTruncate, UpdateSimple.
		{"server/truncate", `{"arr": [999, 999, 999, 999]}`, `{"sarr": {"a": true, "l": 3, "u1": 1}}`,
			`{"arr": [999, 1, 999]}`},
		{"server/update simple", `{"f1": 0, "foo": 2, "f2": 3}`, `{"u": {"f1": 1, "newField": 2}}`,
			`{"f1": 1, "foo": 2, "f2": 3, "newField": 2}`},
		// server: Binary* cases.
		{"server/binary append", `{"b1": ` + binABC + `}`, binAppend,
			`{"b1": {"$binary": {"base64": "YWJjZGVm", "subType": "07"}}}`},
		{"server/binary overwrite", `{"b1": ` + binABC + `}`,
			`{"b": {"b1": {"o": 2, "d": {"$binary": {"base64": "ZGVm", "subType": "00"}}}}}`,
			`{"b1": {"$binary": {"base64": "YWJkZWY=", "subType": "07"}}}`},
		{"server/binary shrink", `{"b1": {"$binary": {"base64": "YWJjZGVm", "subType": "07"}}}`, binShrink,
			`{"b1": {"$binary": {"base64": "YXg=", "subType": "07"}}}`},
		{"server/binary offset past end is a no-op", `{"b1": {"$binary": {"base64": "YXg=", "subType": "07"}}}`, binAppend,
			`{"b1": {"$binary": {"base64": "YXg=", "subType": "07"}}}`},
		{"server/binary keeps uuid subtype", `{"b1": {"$binary": {"base64": "YWJj", "subType": "04"}}}`, binAppend,
			`{"b1": {"$binary": {"base64": "YWJjZGVm", "subType": "04"}}}`},
		// Inferred binary rules (see binary.go).
		{"binary on missing field", `{"x": 1}`, binAppend, `{"x": 1}`},
		{"binary on non-binData", `{"b1": "abc", "x": 1}`, binAppend, `{"b1": null, "x": 1}`},
		{"binary with int64 offset", `{"b1": ` + binABC + `}`,
			`{"b": {"b1": {"o": {"$numberLong": "3"}, "d": {"$binary": {"base64": "ZGVm", "subType": "00"}}}}}`,
			`{"b1": {"$binary": {"base64": "YWJjZGVm", "subType": "07"}}}`},

		// Field order rules of the applier.
		{"missing update then insert append in diff order", `{"y": 0, "z": 1}`,
			`{"u": {"x": 1, "z": 2}, "i": {"y": 3, "w": 4}}`,
			`{"z": 2, "x": 1, "y": 3, "w": 4}`},
		{"insert of existing field moves it last", `{"a": 1, "b": 2, "c": 3}`, `{"i": {"a": 9}}`,
			`{"b": 2, "c": 3, "a": 9}`},
		{"delete missing field is a no-op", `{"a": 1}`, `{"d": {"zz": false}}`, `{"a": 1}`},
		{"delete value is ignored", `{"a": 1, "b": 2}`, `{"d": {"a": true}}`, `{"b": 2}`},
		{"update keeps position and takes the new type", `{"a": 1, "b": 2, "c": 3}`,
			`{"u": {"b": {"$numberLong": "2"}}}`, `{"a": 1, "b": {"$numberLong": "2"}, "c": 3}`},
		{"array diff on document field gives null", `{"a": {"x": 1}}`, `{"sa": {"a": true, "u0": 1}}`, `{"a": null}`},
		{"document diff on array field gives null", `{"a": [1]}`, `{"sa": {"u": {"x": 1}}}`, `{"a": null}`},
		{"array sub-diff past the end gives null", `{"a": [1]}`, `{"sa": {"a": true, "s2": {"u": {"x": 1}}}}`,
			`{"a": [1, null, null]}`},
		{"array resize pads with nulls", `{"a": [1]}`, `{"sa": {"a": true, "l": 3}}`, `{"a": [1, null, null]}`},
		{"array resize to zero", `{"a": [1, 2]}`, `{"sa": {"a": true, "l": 0}}`, `{"a": []}`},
		{"array header only is a no-op", `{"a": [1, 2]}`, `{"sa": {"a": true}}`, `{"a": [1, 2]}`},
		{"nested array diff", `{"a": [[1, 2], 3]}`, `{"sa": {"a": true, "s0": {"a": true, "u1": 5}}}`,
			`{"a": [[1, 5], 3]}`},
		{"duplicate pre-image fields are both modified", `{"a": {"x": 1}, "b": 0, "a": 5}`,
			`{"u": {"b": 1}, "sa": {"u": {"x": 2}}}`, `{"a": {"x": 2}, "b": 1, "a": null}`},
		{"duplicate pre-image fields are both deleted by an insert", `{"a": 1, "b": 0, "a": 2}`,
			`{"i": {"a": 3}}`, `{"b": 0, "a": 3}`},
		{"empty field name via s", `{"": {"x": 1}}`, `{"s": {"u": {"x": 2}}}`, `{"": {"x": 2}}`},
		{"field named like a section", `{"u": 1, "s": 2}`, `{"u": {"u": 3, "s": 4}}`, `{"u": 3, "s": 4}`},
		// More than linearLookupMax ops: lookups go through the sorted index.
		{"many ops use the sorted index",
			`{"f0": 0, "f1": 1, "f2": 2, "f3": 3, "f4": 4, "f5": 5, "f6": 6, "f7": 7, "f8": 8, "f9": 9}`,
			`{"d": {"f9": false, "f0": false, "zz": false}, "u": {"f5": 50, "f1": 10, "new1": 1},
			  "i": {"f2": 20, "new0": 0}, "sf3": {"u": {"x": 1}}, "sf4": {"a": true, "u0": 1}, "sf7": {"d": {"x": false}}}`,
			`{"f1": 10, "f3": null, "f4": null, "f5": 50, "f6": 6, "f7": null, "f8": 8, "new1": 1, "f2": 20, "new0": 0}`},
		{"untouched values keep exact types", `{"l": {"$numberLong": "7"}, "d": 1.5, "i": 7, "x": 0}`,
			`{"u": {"x": 1}}`, `{"l": {"$numberLong": "7"}, "d": 1.5, "i": 7, "x": 1}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pre, d, want := mustDoc(t, tc.pre), mustDoc(t, tc.diff), mustDoc(t, tc.post)
			preCopy, diffCopy := bytes.Clone(pre), bytes.Clone(d)
			got, err := Apply(pre, d)
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			assertSameBytes(t, "post-image", got, want)
			again, err := Apply(got, d)
			if err != nil {
				t.Fatalf("second application: %v", err)
			}
			assertSameBytes(t, "idempotence", again, want)
			if !bytes.Equal(pre, preCopy) || !bytes.Equal(d, diffCopy) {
				t.Fatal("Apply modified its input")
			}
		})
	}
}

// TestArrayKeysRenamed: a diffed array's elements are renamed to their
// positions, as BSONArrayBuilder does, even if the pre-image array had
// other names; an array that is not diffed is copied as is.
func TestArrayKeysRenamed(t *testing.T) {
	odd, err := bson.Marshal(bson.D{{Key: "x", Value: int32(1)}, {Key: "y", Value: int32(2)}})
	if err != nil {
		t.Fatal(err)
	}
	pre := rawDoc(
		rawElem(typeArray, "a", odd),
		rawElem(typeArray, "b", odd),
	)
	got, err := Apply(pre, mustDoc(t, `{"sa": {"a": true, "u1": 5}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := rawDoc(
		rawElem(typeArray, "a", mustArray(t, int32(1), int32(5))),
		rawElem(typeArray, "b", odd),
	)
	assertSameBytes(t, "renamed", got, want)
}

func mustArray(tb testing.TB, vals ...any) []byte {
	tb.Helper()
	_, b, err := bson.MarshalValue(bson.A(vals))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// rawElem and rawDoc assemble BSON by hand, for shapes bson.Marshal will
// not produce (duplicate keys, arrays with odd keys, corrupt bytes).
func rawElem(typ byte, key string, value []byte) []byte {
	out := append([]byte{typ}, key...)
	out = append(out, 0)
	return append(out, value...)
}

func rawDoc(elems ...[]byte) bson.Raw {
	out, start := beginDocument(nil)
	for _, e := range elems {
		out = append(out, e...)
	}
	return endDocument(out, start)
}

// TestApplyOplogUpdate covers the 'o' wrapper.
func TestApplyOplogUpdate(t *testing.T) {
	pre := mustDoc(t, `{"_id": 1, "a": 1}`)
	want := mustDoc(t, `{"_id": 1, "a": 2}`)
	for _, o := range []string{
		`{"$v": 2, "diff": {"u": {"a": 2}}}`,
		`{"diff": {"u": {"a": 2}}, "$v": 2}`,
		`{"$v": {"$numberLong": "2"}, "diff": {"u": {"a": 2}}}`,
		`{"$v": 2.0, "diff": {"u": {"a": 2}}}`,
	} {
		got, err := ApplyOplogUpdate(pre, mustDoc(t, o))
		if err != nil {
			t.Fatalf("%s: %v", o, err)
		}
		assertSameBytes(t, o, got, want)
	}
}
