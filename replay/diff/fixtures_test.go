package diff

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// fixturePath is the shared fixture file, relative to this package
// directory (/work/main/replay/diff -> /work/shared/fixtures).
const fixturePath = "../../../shared/fixtures/diff_examples.json"

// fixtureFile mirrors diff_examples.json. pre/o/post stay raw so they can
// be converted with the number rule of their source.
type fixtureFile struct {
	Sources map[string]struct {
		Lang string `json:"lang"`
	} `json:"sources"`
	Examples []struct {
		ID   string          `json:"id"`
		Src  string          `json:"src"`
		Pre  json.RawMessage `json:"pre"`
		O    json.RawMessage `json:"o"`
		Post json.RawMessage `json:"post"`
		// Error, if a future example describes an invalid diff, is a
		// description of the failure; such an example has no post.
		Error string `json:"error"`
	} `json:"examples"`
}

// example is one fixture converted to BSON.
type example struct {
	id        string
	pre, o    bson.Raw
	diff      bson.Raw
	post      bson.Raw // nil when an error is expected
	wantError string
}

// loadExamples reads and converts every example. A missing file fails the
// test: the examples are the acceptance criteria of this package.
func loadExamples(tb testing.TB) []example {
	tb.Helper()
	data, err := os.ReadFile(fixturePath)
	if err != nil {
		tb.Fatalf("reading diff examples: %v", err)
	}
	var f fixtureFile
	if err := json.Unmarshal(data, &f); err != nil {
		tb.Fatalf("parsing %s: %v", fixturePath, err)
	}
	if len(f.Examples) == 0 {
		tb.Fatalf("%s has no examples", fixturePath)
	}
	var out []example
	for _, x := range f.Examples {
		src, ok := f.Sources[x.Src]
		if !ok {
			tb.Fatalf("%s: unknown source %q", x.ID, x.Src)
		}
		var mode numberMode
		switch src.Lang {
		case "cxx":
			mode = numbersCxx
		case "js":
			mode = numbersJS
		default:
			tb.Fatalf("%s: unknown source language %q", x.ID, src.Lang)
		}
		conv := func(what string, raw json.RawMessage) bson.Raw {
			doc, err := jsonToBSON(raw, mode)
			if err != nil {
				tb.Fatalf("%s: converting %s: %v", x.ID, what, err)
			}
			return doc
		}
		ex := example{id: x.ID, pre: conv("pre", x.Pre), o: conv("o", x.O), wantError: x.Error}
		if len(x.Post) > 0 {
			ex.post = conv("post", x.Post)
		} else if x.Error == "" {
			tb.Fatalf("%s: neither post nor error", x.ID)
		}
		dv, err := ex.o.LookupErr("diff")
		if err != nil {
			tb.Fatalf("%s: o has no diff: %v", x.ID, err)
		}
		ex.diff = dv.Document()
		out = append(out, ex)
	}
	return out
}

// TestExamples applies every example of diff_examples.json and compares the
// post-image byte for byte (field order and BSON types included), then
// checks idempotence: MongoDB's own applier tests (checkDiff) apply every
// diff twice and expect the same bytes, and all examples here are of that
// kind, so none is exempt.
func TestExamples(t *testing.T) {
	examples := loadExamples(t)
	for _, ex := range examples {
		t.Run(ex.id, func(t *testing.T) {
			got, err := ApplyOplogUpdate(ex.pre, ex.o)
			if ex.post == nil {
				if err == nil {
					t.Fatalf("want error (%s), got %s", ex.wantError, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ApplyOplogUpdate: %v", err)
			}
			assertSameBytes(t, "post-image", got, ex.post)

			viaDiff, err := Apply(ex.pre, ex.diff)
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			assertSameBytes(t, "Apply vs ApplyOplogUpdate", viaDiff, got)

			again, err := Apply(got, ex.diff)
			if err != nil {
				t.Fatalf("second application: %v", err)
			}
			assertSameBytes(t, "idempotence", again, ex.post)
		})
	}
	t.Logf("%d examples", len(examples))
}

// assertSameBytes fails unless got and want are identical BSON, showing
// both as Extended JSON (which reveals number types) and hex.
func assertSameBytes(t *testing.T, what string, got, want bson.Raw) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	t.Fatalf("%s differs\n got: %s\nwant: %s\n got hex: %x\nwant hex: %x",
		what, canonical(got), canonical(want), []byte(got), []byte(want))
}

// canonical renders BSON as canonical Extended JSON, type-exact.
func canonical(r bson.Raw) string {
	b, err := bson.MarshalExtJSON(r, true, false)
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return string(b)
}
