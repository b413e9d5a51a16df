package checkpoint

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/segment"
	"github.com/tidelog/tidelog/store"
)

// Value kinds FuzzValue decodes a value as, by its kind argument.
const (
	fuzzInfo = iota
	fuzzGap
	fuzzFormat
	fuzzEmpty
	fuzzKinds
)

// FuzzValue feeds arbitrary bytes to the value codec, as each kind of value
// the checkpoint stores. With fix set, data is a payload and is sealed (a
// version byte and a checksum that hold), so that mutations reach the
// payload's layout checks instead of stopping at the checksum.
//
// Invariants: no panic; every error matches ErrCorrupt and names the key;
// a value that decodes, encoded again, decodes to the same value (byte
// equality does not hold: a uvarint has more than one encoding).
func FuzzValue(f *testing.F) {
	late := oplog.Timestamp{T: 1700000000, I: 9}
	info := segment.Info{Name: "0000001700000000.0000000001-0000001700000009.0000000003", Stream: "rs0",
		OpStart: oplog.Timestamp{T: 1700000000, I: 1}, OpEnd: oplog.Timestamp{T: 1700000009, I: 3},
		Count: 300, RawSize: 1 << 20, Size: 300000, Checksum: 0xdeadbeef,
		Prev: segment.Link{OpEnd: oplog.Timestamp{T: 1699999999, I: 7}, Checksum: 42}}
	gaps := []store.Gap{
		{After: oplog.Timestamp{T: 1, I: 2}, Next: oplog.Timestamp{T: 3, I: 4}, Detected: time.Date(2026, 11, 21, 10, 0, 0, 5, time.UTC), Reason: "oplog rolled over"},
		{After: late.Prev(), Next: late, Detected: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600)), Late: &late},
		{},
	}
	f.Add(encodeInfo(info), uint8(fuzzInfo), false)
	f.Add(encodeInfo(info)[1:len(encodeInfo(info))-4], uint8(fuzzInfo), true)
	for _, g := range gaps {
		v, err := encodeGap(g)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(v, uint8(fuzzGap), false)
		f.Add(v[1:len(v)-4], uint8(fuzzGap), true)
	}
	f.Add(encodeFormat(formatVersion), uint8(fuzzFormat), false)
	f.Add(emptyValue(), uint8(fuzzEmpty), false)
	f.Add([]byte{}, uint8(fuzzEmpty), true)
	key := []byte("seg/rs0/fuzz-key")
	f.Fuzz(func(t *testing.T, data []byte, kind uint8, fix bool) {
		if fix {
			data = seal(data)
		}
		v, err := decodeValue(key, data, kind%fuzzKinds)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) || !bytes.Contains([]byte(err.Error()), key) {
				t.Fatalf("error does not match ErrCorrupt or does not name key %s: %v", key, err)
			}
			return
		}
		var again []byte
		switch x := v.(type) {
		case segment.Info:
			again = encodeInfo(x)
		case store.Gap:
			if again, err = encodeGap(x); err != nil {
				// A time the binary form reads but cannot write (a zone
				// offset out of range): reading it was still no crash.
				return
			}
		case uint32:
			again = encodeFormat(x)
		case nil:
			again = emptyValue()
		}
		back, err := decodeValue(key, again, kind%fuzzKinds)
		if err != nil {
			t.Fatalf("value encoded again does not decode: %v", err)
		}
		if !sameValue(back, v) {
			t.Fatalf("round trip differs:\n got %+v\nwant %+v", back, v)
		}
	})
}

// decodeValue decodes v as the given kind; an empty value decodes as nil.
func decodeValue(key, v []byte, kind uint8) (any, error) {
	switch kind {
	case fuzzInfo:
		return decodeInfo(key, v)
	case fuzzGap:
		return decodeGap(key, v)
	case fuzzFormat:
		return decodeFormat(key, v)
	}
	return nil, checkEmpty(key, v)
}

// sameValue compares decoded values; gap times by instant and offset.
func sameValue(a, b any) bool {
	ga, ok1 := a.(store.Gap)
	gb, ok2 := b.(store.Gap)
	if !ok1 || !ok2 {
		return reflect.DeepEqual(a, b)
	}
	_, oa := ga.Detected.Zone()
	_, ob := gb.Detected.Zone()
	if !ga.Detected.Equal(gb.Detected) || oa != ob {
		return false
	}
	ga.Detected, gb.Detected = time.Time{}, time.Time{}
	return reflect.DeepEqual(ga, gb)
}
