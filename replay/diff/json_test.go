package diff

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// numberMode says how plain JSON numbers become BSON, per the fixture's
// _comment: MongoDB's C++ fromjson() makes integer literals int32 (int64
// when they do not fit) and other literals doubles; the mongo shell makes
// every number a double.
type numberMode int

const (
	numbersCxx numberMode = iota
	numbersJS
)

// jsonToBSON converts a JSON object into BSON keeping key order and
// applying mode to plain numbers. It understands the canonical Extended
// JSON wrappers the tests use ($numberInt, $numberLong, $numberDouble,
// $binary); any other object is a document. The conversion goes through
// bson.D and bson.Marshal, independently of the package under test.
func jsonToBSON(data []byte, mode numberMode) (bson.Raw, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := readJSON(dec, mode)
	if err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data after JSON value")
	}
	doc, ok := v.(bson.D)
	if !ok {
		return nil, fmt.Errorf("top-level JSON value is %T, want an object", v)
	}
	return bson.Marshal(doc)
}

// readJSON reads one JSON value as a bson.D / bson.A / scalar.
func readJSON(dec *json.Decoder, mode numberMode) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			d := bson.D{} // non-nil: a nil bson.D marshals as null
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				v, err := readJSON(dec, mode)
				if err != nil {
					return nil, err
				}
				d = append(d, bson.E{Key: kt.(string), Value: v})
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return unwrapExtJSON(d)
		case '[':
			a := bson.A{}
			for dec.More() {
				v, err := readJSON(dec, mode)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return a, nil
		}
		return nil, fmt.Errorf("unexpected delimiter %v", t)
	case json.Number:
		return jsonNumber(string(t), mode)
	case string, bool, nil:
		return t, nil
	}
	return nil, fmt.Errorf("unexpected JSON token %v", tok)
}

// jsonNumber converts a number literal.
func jsonNumber(lit string, mode numberMode) (any, error) {
	integral := !strings.ContainsAny(lit, ".eE")
	if mode == numbersCxx && integral {
		n, err := strconv.ParseInt(lit, 10, 64)
		if err != nil {
			return nil, err
		}
		if n >= math.MinInt32 && n <= math.MaxInt32 {
			return int32(n), nil
		}
		return n, nil
	}
	return strconv.ParseFloat(lit, 64)
}

// unwrapExtJSON turns a single-key Extended JSON wrapper into its value and
// leaves any other document alone.
func unwrapExtJSON(d bson.D) (any, error) {
	if len(d) != 1 || !strings.HasPrefix(d[0].Key, "$") {
		return d, nil
	}
	s, _ := d[0].Value.(string)
	switch d[0].Key {
	case "$numberInt":
		n, err := strconv.ParseInt(s, 10, 32)
		return int32(n), err
	case "$numberLong":
		return strconv.ParseInt(s, 10, 64)
	case "$numberDouble":
		return strconv.ParseFloat(s, 64)
	case "$binary":
		sub, ok := d[0].Value.(bson.D)
		if !ok {
			return nil, fmt.Errorf("$binary wants {base64, subType}")
		}
		var b bson.Binary
		for _, e := range sub {
			str, _ := e.Value.(string)
			switch e.Key {
			case "base64":
				data, err := base64.StdEncoding.DecodeString(str)
				if err != nil {
					return nil, err
				}
				b.Data = data
			case "subType":
				st, err := hex.DecodeString(str)
				if err != nil || len(st) != 1 {
					return nil, fmt.Errorf("bad $binary subType %q", str)
				}
				b.Subtype = st[0]
			}
		}
		if b.Data == nil {
			b.Data = []byte{}
		}
		return b, nil
	}
	return d, nil
}

// TestJSONNumberRule pins the fixture conversion rule itself.
func TestJSONNumberRule(t *testing.T) {
	in := []byte(`{"i": 1, "f": 1.0, "e": 1e2, "big": 3000000000, "l": {"$numberLong": "3"}, "d": {"$numberDouble": "3.0"}}`)
	cases := []struct {
		mode numberMode
		want bson.D
	}{
		{numbersCxx, bson.D{{Key: "i", Value: int32(1)}, {Key: "f", Value: 1.0}, {Key: "e", Value: 100.0},
			{Key: "big", Value: int64(3000000000)}, {Key: "l", Value: int64(3)}, {Key: "d", Value: 3.0}}},
		{numbersJS, bson.D{{Key: "i", Value: 1.0}, {Key: "f", Value: 1.0}, {Key: "e", Value: 100.0},
			{Key: "big", Value: 3e9}, {Key: "l", Value: int64(3)}, {Key: "d", Value: 3.0}}},
	}
	for _, c := range cases {
		got, err := jsonToBSON(in, c.mode)
		if err != nil {
			t.Fatal(err)
		}
		want, err := bson.Marshal(c.want)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("mode %d: got %s, want %s", c.mode, bson.Raw(got), bson.Raw(want))
		}
	}
}
