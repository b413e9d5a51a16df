package diff

import (
	"errors"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// TestMalformedDiffs: every malformed diff is an *Error of the right kind
// whose message names the problem and, below the top level, the field.
// Cases marked "server:" are rejected by MongoDB too (error code given).
func TestMalformedDiffs(t *testing.T) {
	tests := []struct {
		name, pre, diff string
		msg             string // substring of the error message
	}{
		// Empty diffs. server: 4770500.
		{"empty diff", `{}`, `{}`, "diff: malformed diff: empty diff"},
		{"empty sub-diff", `{"a": {}}`, `{"sa": {}}`, `field "a": malformed diff: empty sub-diff`},
		{"empty nested sub-diff", `{}`, `{"sa": {"a": true, "s0": {}}}`, `field "a.0": malformed diff: empty sub-diff`},

		// Unknown or misplaced sections. server: 4770503, 4770505, 4770513/4770514.
		{"unknown section", `{}`, `{"x": {"a": 1}}`, `unknown section "x"`},
		{"long section name", `{}`, `{"delete": {"a": false}}`, `unknown section "delete"`},
		{"empty section name", `{}`, `{"": {"a": false}}`, "empty section name"},
		{"array diff at top", `{}`, `{"a": true, "l": 5, "d0": false}`, `unknown section "a"`},
		{"unknown section in sub-diff", `{"a": {"b": 1}}`, `{"sa": {"q": {"b": 1}}}`, `field "a": malformed diff: unknown section "q"`},
		{"u before d", `{}`, `{"u": {"a": 1}, "d": {"b": false}}`, `section "d" out of order`},
		{"i before u", `{}`, `{"i": {"a": 1}, "u": {"b": 1}}`, `section "u" out of order`},
		{"d twice", `{}`, `{"d": {"a": false}, "d": {"b": false}}`, `section "d" out of order or repeated`},
		{"section after sub-diff", `{}`, `{"sa": {"u": {"x": 1}}, "u": {"b": 1}}`, `section "u" out of order`},
		{"b before i", `{}`, `{"b": {"x": {"o": 0, "d": {"$binary": {"base64": "", "subType": "00"}}}}, "i": {"y": 1}}`, `section "i" out of order`},

		// Section values. server: 4770507, 470510, 4770501.
		{"update section not a document", `{}`, `{"u": 5}`, `section "u" must be a document, got int`},
		{"insert section is an array", `{}`, `{"i": [1]}`, `section "i" must be a document, got array`},
		{"sub-diff not a document", `{"a": {}}`, `{"sa": 5}`, `field "a": malformed diff: sub-diff must be a document, got int`},
		{"sub-diff is an array", `{"a": {}}`, `{"sa": [1]}`, `sub-diff must be a document, got array`},
		{"array element sub-diff not a document", `{"a": [{}]}`, `{"sa": {"a": true, "s0": "x"}}`, `field "a.0": malformed diff: sub-diff must be a document, got string`},

		// Duplicates. server: 4728000 (DiffApplierTest.DuplicateFieldNames).
		{"duplicate delete", `{}`, `{"d": {"a": false, "b": false, "a": false}}`, `duplicate field name "a"`},
		{"duplicate update", `{}`, `{"u": {"f1": 3, "f1": 4}}`, `duplicate field name "f1"`},
		{"duplicate insert", `{}`, `{"i": {"a": {}, "a": null}}`, `duplicate field name "a"`},
		// (The server's case makes the second "sa" {a: true, d: {p: false}},
		// which is also a malformed array diff; this one is valid but for
		// the duplicate.)
		{"duplicate sub-diff", `{}`, `{"sa": {"d": {"p": false}}, "sa": {"a": true, "u0": 1}}`, `duplicate field name "a"`},
		{"delete and insert", `{}`, `{"d": {"b": false}, "i": {"a": {}, "b": null}}`, `duplicate field name "b"`},
		{"update and insert", `{}`, `{"u": {"b": false}, "i": {"a": {}, "b": null}}`, `duplicate field name "b"`},
		{"update and sub-diff", `{}`, `{"u": {"a": {}}, "sa": {"d": {"k": false}}}`, `duplicate field name "a"`},
		{"duplicate among many ops", `{}`, `{"d": {"a": false, "b": false, "c": false, "d": false}, "u": {"e": 1, "f": 1, "g": 1}, "i": {"h": 1, "c": 2, "j": 1}}`, `duplicate field name "c"`},
		{"duplicate in nested diff", `{}`, `{"sx": {"u": {"a": 1}, "i": {"a": 2}}}`, `field "x": malformed diff: duplicate field name "a"`},

		// Array diff header and resize. server: 4770519, 4770520, 4770507.
		{"array header false", `{"a": []}`, `{"sa": {"a": false}}`, `header "a" must be true`},
		{"array header not bool", `{"a": []}`, `{"sa": {"a": 1}}`, `header "a" must be true`},
		{"resize negative", `{"a": []}`, `{"sa": {"a": true, "l": -1}}`, `field "a": malformed diff: array resize "l" is negative (-1)`},
		{"resize not int32", `{"a": []}`, `{"sa": {"a": true, "l": {"$numberLong": "2"}}}`, `array resize "l" must be an int, got long`},
		{"resize double", `{"a": []}`, `{"sa": {"a": true, "l": 2.0}}`, `array resize "l" must be an int, got double`},
		{"resize not right after header", `{"a": []}`, `{"sa": {"a": true, "u0": 1, "l": 2}}`, `unexpected key "l" in array diff`},

		// Array positions. server: 4770521, 4770512, 4770502.
		{"index not a number", `{"a": []}`, `{"sa": {"a": true, "uX": 1}}`, `bad array position in key "uX"`},
		{"index negative", `{"a": []}`, `{"sa": {"a": true, "u-1": 1}}`, `bad array position in key "u-1"`},
		{"index plus sign", `{"a": []}`, `{"sa": {"a": true, "u+1": 1}}`, `bad array position in key "u+1"`},
		{"index leading zero", `{"a": []}`, `{"sa": {"a": true, "u01": 1}}`, `bad array position in key "u01"`},
		{"index fraction", `{"a": []}`, `{"sa": {"a": true, "u1.5": 1}}`, `bad array position in key "u1.5"`},
		{"index too large", `{"a": []}`, `{"sa": {"a": true, "u99999999999": 1}}`, `bad array position in key "u99999999999"`},
		{"index key too short", `{"a": []}`, `{"sa": {"a": true, "u": 1}}`, `unexpected key "u" in array diff`},
		{"index key unknown kind", `{"a": []}`, `{"sa": {"a": true, "d0": false}}`, `unexpected key "d0" in array diff`},
		{"indexes out of order", `{"a": []}`, `{"sa": {"a": true, "u3": 1, "u1": 1}}`, `field "a.1": malformed diff: array position "u1" not after position 3`},
		{"index repeated", `{"a": []}`, `{"sa": {"a": true, "u1": 1, "s1": {"u": {"x": 1}}}}`, `array position "s1" not after position 1`},
		{"index at new length", `{"a": []}`, `{"sa": {"a": true, "l": 2, "u2": 1}}`, `field "a.2": malformed diff: array position "u2" is not below the new length l=2`},

		// Binary section. server: 10065, 12262901, 12262900.
		{"binary entry not a document", `{}`, `{"b": {"b1": "not_an_object"}}`, `field "b1": malformed diff: binary diff must be a document {o, d}, got string`},
		{"binary negative offset", `{}`, `{"b": {"b1": {"o": -1, "d": {"$binary": {"base64": "ZGVm", "subType": "00"}}}}}`, `binary diff offset "o" is negative (-1)`},
		{"binary data not binData", `{}`, `{"b": {"b1": {"o": 3, "d": "not_bindata"}}}`, `binary diff data "d" must be binData, got string`},
		{"binary offset not integer", `{}`, `{"b": {"b1": {"o": 1.5, "d": {"$binary": {"base64": "", "subType": "00"}}}}}`, `binary diff offset "o" must be an integer, got double`},
		{"binary missing data", `{}`, `{"b": {"b1": {"o": 1}}}`, `needs both "o" and "d"`},
		{"binary unknown key", `{}`, `{"b": {"b1": {"o": 1, "d": {"$binary": {"base64": "", "subType": "00"}}, "x": 1}}}`, `unexpected key "x" in binary diff`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Apply(mustDoc(t, tc.pre), mustDoc(t, tc.diff))
			assertError(t, err, ErrMalformedDiff, tc.msg)
		})
	}
}

// TestValidityDoesNotDependOnPreImage: a malformed sub-diff is an error
// even when the pre-image lacks the field it would apply to (MongoDB would
// not notice; see doc.go).
func TestValidityDoesNotDependOnPreImage(t *testing.T) {
	_, err := Apply(mustDoc(t, `{"other": 1}`), mustDoc(t, `{"sa": {"a": true, "u01": 1}}`))
	assertError(t, err, ErrMalformedDiff, `bad array position in key "u01"`)
}

// TestInvalidBSON: inputs that are not exactly one well-formed document.
func TestInvalidBSON(t *testing.T) {
	good := mustDoc(t, `{"a": 1}`)
	diffDoc := mustDoc(t, `{"u": {"a": 2}}`)
	trailing := append(good[:len(good):len(good)], 0)
	badString := rawDoc(rawElem(typeString, "s", []byte{5, 0, 0, 0, 'a', 'b', 'c', 'd', 'e'}))
	badBool := rawDoc(rawElem(typeBool, "b", []byte{2}))
	badNested := rawDoc(rawElem(typeDocument, "n", []byte{6, 0, 0, 0, 0, 1}))
	unknownType := rawDoc(rawElem(0x42, "x", nil))
	tests := []struct {
		name      string
		pre, diff []byte
		msg       string
	}{
		{"nil pre-image", nil, diffDoc, "pre-image: invalid BSON: document shorter than 5 bytes"},
		{"truncated pre-image", good[:len(good)-1], diffDoc, "pre-image: invalid BSON: document length prefix"},
		{"trailing bytes", trailing, diffDoc, "pre-image: invalid BSON: document length prefix"},
		{"string without NUL", badString, diffDoc, `field "s": pre-image: invalid BSON: string not NUL-terminated`},
		{"bool byte 2", badBool, diffDoc, `field "b": pre-image: invalid BSON: boolean byte 0x02`},
		{"nested not terminated", badNested, diffDoc, `field "n": pre-image: invalid BSON: document not NUL-terminated`},
		{"unknown type", unknownType, diffDoc, `field "x": pre-image: invalid BSON: unknown element type 0x42`},
		{"bad diff", good, unknownType, `field "x": diff: invalid BSON: unknown element type 0x42`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Apply(tc.pre, tc.diff)
			assertError(t, err, ErrInvalidBSON, tc.msg)
		})
	}
}

// TestTooLarge: diffs that would build a post-image no server can hold,
// and nesting beyond MaxDepth, fail fast instead of exhausting memory or
// stack.
func TestTooLarge(t *testing.T) {
	t.Run("huge array index", func(t *testing.T) {
		_, err := Apply(mustDoc(t, `{"a": []}`), mustDoc(t, `{"sa": {"a": true, "u2000000000": 1}}`))
		assertError(t, err, ErrTooLarge, `field "a": document too large: array would grow to 2000000001 elements`)
	})
	t.Run("huge resize", func(t *testing.T) {
		_, err := Apply(mustDoc(t, `{"a": []}`), mustDoc(t, `{"sa": {"a": true, "l": 2147483647}}`))
		assertError(t, err, ErrTooLarge, "array would grow to 2147483647 elements")
	})
	t.Run("padding just over the limit", func(t *testing.T) {
		// 1.5M nulls with 7-digit names take ~13.5 MB, over the limit with
		// the other 3M; the size is only known while building.
		_, err := Apply(mustDoc(t, `{"a": []}`), mustDoc(t, `{"sa": {"a": true, "l": 5000000}}`))
		assertError(t, err, ErrTooLarge, "exceeds")
	})
	t.Run("deep pre-image", func(t *testing.T) {
		doc := rawDoc()
		for range MaxDepth {
			doc = rawDoc(rawElem(typeDocument, "x", doc))
		}
		_, err := Apply(doc, mustDoc(t, `{"u": {"a": 1}}`))
		assertError(t, err, ErrTooLarge, "nesting deeper than 1000 levels")
	})
}

// TestOplogWrapperErrors: 'o' fields that are not $v:2 delta updates.
func TestOplogWrapperErrors(t *testing.T) {
	pre := mustDoc(t, `{"_id": 1}`)
	tests := []struct{ name, o, msg string }{
		{"replacement", `{"_id": 1, "a": 2}`, `unexpected field "_id" in o`},
		{"no $v", `{"diff": {"u": {"a": 1}}}`, "o has no $v field"},
		{"$v 1", `{"$v": 1, "$set": {"a": 1}}`, `unexpected field "$set" in o`},
		{"$v 1 alone", `{"$v": 1}`, "o.$v is 1; only $v:2 delta updates are supported"},
		{"$v string", `{"$v": "2", "diff": {"u": {"a": 1}}}`, "o.$v must be a number, got string"},
		{"$v 3", `{"$v": 3, "diff": {"u": {"a": 1}}}`, "o.$v is 3"},
		{"no diff", `{"$v": 2}`, "o has $v:2 but no diff field"},
		{"diff not a document", `{"$v": 2, "diff": [1]}`, "o.diff must be a document, got array"},
		{"$v twice", `{"$v": 2, "$v": 2, "diff": {"u": {"a": 1}}}`, "o has $v twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ApplyOplogUpdate(pre, mustDoc(t, tc.o))
			assertError(t, err, ErrNotDelta, tc.msg)
		})
	}
	t.Run("malformed diff inside o", func(t *testing.T) {
		_, err := ApplyOplogUpdate(pre, mustDoc(t, `{"$v": 2, "diff": {}}`))
		assertError(t, err, ErrMalformedDiff, "empty diff")
	})
	t.Run("invalid o", func(t *testing.T) {
		_, err := ApplyOplogUpdate(pre, bson.Raw{1, 2, 3})
		assertError(t, err, ErrInvalidBSON, "oplog o: invalid BSON")
	})
}

// assertError checks kind (via errors.Is), type and message.
func assertError(t *testing.T, err error, kind error, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want %v error containing %q, got nil", kind, msg)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error is %T, want *Error: %v", err, err)
	}
	if !errors.Is(err, kind) {
		t.Fatalf("error kind: want %v, got %v (%v)", kind, e.Kind, err)
	}
	if !strings.HasPrefix(err.Error(), "diff: ") || !strings.Contains(err.Error(), msg) {
		t.Fatalf("error message %q does not contain %q", err.Error(), msg)
	}
}
