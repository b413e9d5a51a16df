// Package oplog holds what every part of tidelog knows about a MongoDB oplog:
// positions (Timestamp) and the few fields of a raw entry that the capture and
// restore paths look up without decoding the whole document.
package oplog

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Timestamp is a position in one replica set's oplog: seconds since the epoch
// (T) and an ordinal within that second (I). It orders totally within a stream.
// The zero value is "before every entry".
type Timestamp struct {
	T uint32
	I uint32
}

// Max is the greatest timestamp; as a restore target it means "everything".
var Max = Timestamp{T: math.MaxUint32, I: math.MaxUint32}

// FromUint64 unpacks the T<<32|I form used on disk.
func FromUint64(v uint64) Timestamp { return Timestamp{T: uint32(v >> 32), I: uint32(v)} }

// Uint64 packs the timestamp as T<<32|I, which sorts like the timestamp.
func (ts Timestamp) Uint64() uint64 { return uint64(ts.T)<<32 | uint64(ts.I) }

// Compare returns -1, 0 or +1 as ts is before, equal to or after o.
func (ts Timestamp) Compare(o Timestamp) int {
	a, b := ts.Uint64(), o.Uint64()
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Before reports whether ts orders strictly before o.
func (ts Timestamp) Before(o Timestamp) bool { return ts.Uint64() < o.Uint64() }

// After reports whether ts orders strictly after o.
func (ts Timestamp) After(o Timestamp) bool { return ts.Uint64() > o.Uint64() }

// Prev is the position just before ts: resuming "after ts.Prev()" reads ts
// again. The zero position has no predecessor and stays zero.
func (ts Timestamp) Prev() Timestamp {
	switch {
	case ts.I > 0:
		return Timestamp{T: ts.T, I: ts.I - 1}
	case ts.T > 0:
		return Timestamp{T: ts.T - 1, I: math.MaxUint32}
	}
	return ts
}

// Next is the position just after ts. Max stays Max.
func (ts Timestamp) Next() Timestamp {
	switch {
	case ts.I < math.MaxUint32:
		return Timestamp{T: ts.T, I: ts.I + 1}
	case ts.T < math.MaxUint32:
		return Timestamp{T: ts.T + 1}
	}
	return ts
}

// IsZero reports whether ts is the zero position.
func (ts Timestamp) IsZero() bool { return ts == Timestamp{} }

// String renders T.I, the form every tidelog command accepts back.
func (ts Timestamp) String() string {
	return strconv.FormatUint(uint64(ts.T), 10) + "." + strconv.FormatUint(uint64(ts.I), 10)
}

// Time is the wall-clock second of ts, in UTC.
func (ts Timestamp) Time() time.Time { return time.Unix(int64(ts.T), 0).UTC() }

// BSON converts to the driver's type, for queries.
func (ts Timestamp) BSON() bson.Timestamp { return bson.Timestamp{T: ts.T, I: ts.I} }

// Parse reads a position as a user writes it:
//
//   - "T.I"  an exact oplog timestamp, e.g. 1700000000.42;
//   - "T"    a whole second: every entry of that second is included, i.e. T.4294967295,
//     because an oplog second holds many entries and stopping at its first one
//     would silently drop the rest (the second-granularity trap of other tools);
//   - RFC 3339, fractions allowed, e.g. 2026-11-21T10:00:00.250Z: the oplog counts
//     whole seconds, so the fraction is dropped and the whole second is included
//     as for "T". Use T.I to stop at an exact entry.
//
// "latest" and "" are not positions; callers handle them before calling Parse.
func Parse(s string) (Timestamp, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Timestamp{}, fmt.Errorf("empty timestamp")
	}
	if t, i, ok := strings.Cut(s, "."); ok && isDigits(t) && isDigits(i) {
		tv, err1 := strconv.ParseUint(t, 10, 32)
		iv, err2 := strconv.ParseUint(i, 10, 32)
		if err1 != nil || err2 != nil {
			return Timestamp{}, fmt.Errorf("timestamp %q: T and I must each fit in 32 bits", s)
		}
		return Timestamp{T: uint32(tv), I: uint32(iv)}, nil
	}
	if isDigits(s) {
		tv, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return Timestamp{}, fmt.Errorf("timestamp %q: seconds must fit in 32 bits", s)
		}
		return Timestamp{T: uint32(tv), I: math.MaxUint32}, nil
	}
	wall, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return Timestamp{}, fmt.Errorf("timestamp %q: want T.I (e.g. 1700000000.5), T (seconds) or RFC 3339 (e.g. 2026-11-21T10:00:00Z)", s)
	}
	sec := wall.Unix()
	if sec < 0 || sec > math.MaxUint32 {
		return Timestamp{}, fmt.Errorf("timestamp %q: outside the oplog's range (1970 to 2106)", s)
	}
	return Timestamp{T: uint32(sec), I: math.MaxUint32}, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
