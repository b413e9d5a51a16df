package diff

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// FuzzApply checks, for arbitrary (pre, diff) byte strings:
//
//  1. Apply never panics, and fails only with an *Error of one of the
//     documented kinds, whose message starts with "diff: ".
//  2. On success the post-image is a valid BSON document (by this
//     package's strict validator and by the driver's) within
//     MaxDocumentSize, and the inputs are unchanged.
//  3. Determinism: a second call with the same inputs returns the same
//     bytes.
//  4. Idempotence: Apply(post, diff) succeeds and returns post, byte for
//     byte. This holds for every diff Apply accepts, resizes and type
//     mismatches included, by induction on the diff: a document level
//     keeps untouched fields, writes 'u' values in place (and on the second
//     pass every 'u' field exists, so it stays where the first pass put it),
//     re-appends the 'i' fields that the first pass left at the end in the
//     same order, turns a mismatched sub-diff target into null (still a
//     mismatch on the second pass); an array level has, after one pass,
//     exactly the length the diff implies, so "l", padding and u<N> are
//     fixed points; a binary splice leaves at least o bytes, so o <= len
//     on the second pass and the splice repeats itself. Nothing here
//     depends on the pre-image in a way the first pass can change: the
//     diff is validated on its own, and the post-image's size and depth
//     equal the first result's.
//  5. ApplyOplogUpdate({$v: 2, diff}) agrees with Apply.
//  6. Differential: when the pre-image round-trips through bson.D
//     unchanged (so the driver's decoding loses nothing), the result
//     equals that of refApply, a deliberately naive model of the same
//     rules built on decoded values.
//
// Each input is checked twice: as raw bytes (which mostly exercises the
// rejection of broken BSON and malformed diffs), and through gen, which
// turns the same bytes into a well-formed pre-image and a valid diff aimed
// at it; those must apply without error.
func FuzzApply(f *testing.F) {
	for _, ex := range loadExamples(f) {
		f.Add([]byte(ex.pre), []byte(ex.diff))
	}
	seed := func(pre, d string) { f.Add([]byte(mustDoc(f, pre)), []byte(mustDoc(f, d))) }
	seed(`{"a": [1, 2, 3], "b": {"c": 1}}`, `{"d": {"x": false}, "u": {"y": 1}, "i": {"b": 2}, "sa": {"a": true, "l": 5, "u1": 9, "s3": {"u": {"q": 1}}}}`)
	seed(`{"b1": {"$binary": {"base64": "YWJj", "subType": "07"}}}`, `{"b": {"b1": {"o": 2, "d": {"$binary": {"base64": "ZGVm", "subType": "00"}}}}}`)
	seed(`{"a": 1}`, `{"sa": {"a": true, "u01": 1}}`)
	if all, err := bson.Marshal(allTypes(f)); err == nil {
		f.Add([]byte(all), []byte(mustDoc(f, `{"d": {"oid": false}, "u": {"regex": 1}, "i": {"date": 2}, "sdoc": {"i": {"y": 2}}, "sarray": {"a": true, "u3": "x"}}`)))
	}
	seed(`{"a": [[1], {"x": [2]}]}`, `{"sa": {"a": true, "s0": {"a": true, "l": 0}, "s1": {"sx": {"a": true, "u3": 1}}}}`)

	f.Fuzz(func(t *testing.T, pre, d []byte) {
		checkApply(t, pre, d, false)
		gp, gd, err := generated(pre, d)
		if err != nil {
			t.Fatalf("generator: %v", err)
		}
		checkApply(t, gp, gd, true)
	})
}

// checkApply asserts the invariants above for one input. valid says the
// input is known to be a valid pre-image and diff, so Apply must succeed.
func checkApply(t *testing.T, pre, d []byte, valid bool) {
	t.Helper()
	preCopy, diffCopy := bytes.Clone(pre), bytes.Clone(d)
	post, err := Apply(pre, d)
	if !bytes.Equal(pre, preCopy) || !bytes.Equal(d, diffCopy) {
		t.Fatal("Apply modified its input")
	}
	checkOplogAgrees(t, pre, d, post, err)
	if err != nil {
		var e *Error
		if !errors.As(err, &e) || !strings.HasPrefix(err.Error(), "diff: ") {
			t.Fatalf("error of wrong shape %T: %v", err, err)
		}
		switch e.Kind {
		case ErrMalformedDiff, ErrInvalidBSON, ErrTooLarge:
		default:
			t.Fatalf("unexpected error kind %v", e.Kind)
		}
		if valid {
			t.Fatalf("valid input rejected: %v\npre:  %s\ndiff: %s", err, canonical(pre), canonical(d))
		}
		return
	}
	if err := validateDocument(post, 1); err != nil {
		t.Fatalf("post-image invalid: %v\n%x", err, []byte(post))
	}
	if err := post.Validate(); err != nil {
		t.Fatalf("post-image invalid for the driver: %v", err)
	}
	if len(post) > MaxDocumentSize {
		t.Fatalf("post-image of %d bytes", len(post))
	}
	post2, err := Apply(pre, d)
	if err != nil || !bytes.Equal(post, post2) {
		t.Fatalf("not deterministic: %v", err)
	}
	again, err := Apply(post, d)
	if err != nil {
		t.Fatalf("second application failed: %v", err)
	}
	if !bytes.Equal(again, post) {
		t.Fatalf("not idempotent\n  pre: %s\n diff: %s\n once: %s\ntwice: %s",
			canonical(pre), canonical(d), canonical(post), canonical(again))
	}
	if want, ok := refApply(pre, d); ok && !bytes.Equal(post, want) {
		t.Fatalf("differs from reference model\n pre: %s\ndiff: %s\n got: %s\nwant: %s",
			canonical(pre), canonical(d), canonical(post), canonical(want))
	} else if !ok && valid {
		t.Fatalf("generated pre-image does not round-trip: %s", canonical(pre))
	}
}

// checkOplogAgrees wraps d as {$v: 2, diff: d} and checks that
// ApplyOplogUpdate returns what Apply did.
func checkOplogAgrees(t *testing.T, pre, d []byte, post bson.Raw, applyErr error) {
	t.Helper()
	o := rawDoc(rawElem(typeInt32, "$v", []byte{2, 0, 0, 0}), rawElem(typeDocument, "diff", d))
	got, err := ApplyOplogUpdate(pre, o)
	if (err == nil) != (applyErr == nil) || !bytes.Equal(got, post) {
		t.Fatalf("ApplyOplogUpdate disagrees with Apply: %v vs %v", err, applyErr)
	}
}

// refApply is an independent, naive model of the diff rules on decoded
// values (bson.D/bson.A), used as a differential oracle. It only handles
// diffs Apply accepted. ok is false when the pre-image does not survive a
// bson.D round trip byte for byte (duplicate-free arrays with odd element
// names, for instance), since then the model cannot see the exact input.
func refApply(pre, d []byte) (bson.Raw, bool) {
	var doc bson.D
	if err := bson.Unmarshal(pre, &doc); err != nil {
		return nil, false
	}
	if again, err := bson.Marshal(doc); err != nil || !bytes.Equal(again, pre) {
		return nil, false
	}
	if hasOldBinary(doc) {
		// The driver strips the inner length of old (subtype 2) binData,
		// so the model would splice at other offsets.
		return nil, false
	}
	out, err := bson.Marshal(refDoc(doc, bson.Raw(d)))
	if err != nil {
		return nil, false
	}
	return out, true
}

func refDoc(pre bson.D, d bson.Raw) bson.D {
	type mod struct {
		kind string
		val  bson.RawValue
	}
	mods := map[string]mod{}
	var tail []bson.RawElement // u and i elements in diff order
	elems, _ := d.Elements()
	for _, sec := range elems {
		key := sec.Key()
		if key[0] == 's' {
			mods[key[1:]] = mod{"s", sec.Value()}
			continue
		}
		fields, _ := sec.Value().Document().Elements()
		for _, f := range fields {
			mods[f.Key()] = mod{key, f.Value()}
			if key == "u" || key == "i" {
				tail = append(tail, f)
			}
		}
	}
	out := bson.D{}
	present := map[string]bool{}
	for _, e := range pre {
		m, ok := mods[e.Key]
		switch {
		case !ok:
			out = append(out, e)
		case m.kind == "u":
			out = append(out, bson.E{Key: e.Key, Value: m.val})
			present[e.Key] = true
		case m.kind == "b":
			out = append(out, bson.E{Key: e.Key, Value: refBinary(e.Value, m.val.Document())})
		case m.kind == "s":
			out = append(out, bson.E{Key: e.Key, Value: refSub(e.Value, m.val.Document())})
		}
	}
	for _, f := range tail {
		if !present[f.Key()] {
			out = append(out, bson.E{Key: f.Key(), Value: f.Value()})
		}
	}
	return out
}

func refSub(v any, sub bson.Raw) any {
	isArrayDiff := sub.Index(0).Key() == "a"
	switch pv := v.(type) {
	case bson.D:
		if !isArrayDiff {
			return refDoc(pv, sub)
		}
	case bson.A:
		if isArrayDiff {
			return refArray(pv, sub)
		}
	}
	return nil
}

func refArray(pre bson.A, d bson.Raw) bson.A {
	out := bson.A{}
	out = append(out, pre...)
	elems, _ := d.Elements()
	for _, e := range elems[1:] {
		key := e.Key()
		if key == "l" {
			n := int(e.Value().Int32())
			for len(out) < n {
				out = append(out, nil)
			}
			out = out[:n]
			continue
		}
		idx, _ := strconv.Atoi(key[1:])
		for len(out) <= idx {
			out = append(out, missing{})
		}
		if key[0] == 'u' {
			out[idx] = e.Value()
		} else {
			out[idx] = refSub(out[idx], e.Value().Document())
		}
	}
	for i, v := range out {
		if _, ok := v.(missing); ok {
			out[i] = nil
		}
	}
	return out
}

// missing marks array positions past the pre-image's end, so a sub-diff
// there sees neither a document nor an array.
type missing struct{}

func refBinary(v any, d bson.Raw) any {
	b, ok := v.(bson.Binary)
	if !ok {
		return nil
	}
	off := d.Lookup("o").AsInt64()
	_, data := d.Lookup("d").Binary()
	if off > int64(len(b.Data)) {
		return b
	}
	return bson.Binary{Subtype: b.Subtype, Data: append(bytes.Clone(b.Data[:off]), data...)}
}

// hasOldBinary reports whether v holds binData of the old subtype 2.
func hasOldBinary(v any) bool {
	switch x := v.(type) {
	case bson.D:
		for _, e := range x {
			if hasOldBinary(e.Value) {
				return true
			}
		}
	case bson.A:
		for _, e := range x {
			if hasOldBinary(e) {
				return true
			}
		}
	case bson.Binary:
		return x.Subtype == 2
	}
	return false
}
