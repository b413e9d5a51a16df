package oplog

import (
	"math"
	"testing"
)

func TestParse(t *testing.T) {
	cases := []struct {
		in   string
		want Timestamp
	}{
		{"1700000000.42", Timestamp{T: 1700000000, I: 42}},
		{"1700000000.0", Timestamp{T: 1700000000}},
		{" 1700000000.7 ", Timestamp{T: 1700000000, I: 7}},
		// A whole second includes every entry of that second.
		{"1700000000", Timestamp{T: 1700000000, I: math.MaxUint32}},
		{"2023-11-14T22:13:20Z", Timestamp{T: 1700000000, I: math.MaxUint32}},
		{"2023-11-14T22:13:20.999Z", Timestamp{T: 1700000000, I: math.MaxUint32}},
		{"2023-11-14T23:13:20+01:00", Timestamp{T: 1700000000, I: math.MaxUint32}},
	}
	for _, c := range cases {
		got, err := Parse(c.in)
		if err != nil || got != c.want {
			t.Errorf("Parse(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "noon", "1700000000.", ".5", "1.2.3", "-1", "99999999999", "1.99999999999", "1969-12-31T23:59:59Z", "2023-11-14 22:13:20"} {
		if ts, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", bad, ts)
		}
	}
}

func TestStringParsesBack(t *testing.T) {
	for _, ts := range []Timestamp{{}, {T: 1, I: 2}, {T: math.MaxUint32, I: math.MaxUint32}} {
		got, err := Parse(ts.String())
		if err != nil || got != ts {
			t.Errorf("Parse(%q) = %v, %v", ts.String(), got, err)
		}
	}
}

func TestOrder(t *testing.T) {
	a, b := Timestamp{T: 5, I: 9}, Timestamp{T: 6, I: 1}
	if !a.Before(b) || !b.After(a) || a.Compare(b) != -1 || b.Compare(a) != 1 || a.Compare(a) != 0 {
		t.Error("5.9 must order before 6.1")
	}
	if FromUint64(a.Uint64()) != a {
		t.Error("Uint64 round trip")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"1.2", "1700000000", "2026-11-21T10:00:00.25Z", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := Parse(s)
		if err != nil {
			return
		}
		// Whatever parses must render to a form that parses to the same position.
		back, err := Parse(ts.String())
		if err != nil || back != ts {
			t.Fatalf("Parse(%q) = %v, but %q parses to %v, %v", s, ts, ts.String(), back, err)
		}
	})
}
