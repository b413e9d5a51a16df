package segment

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/tidelog/tidelog/oplog"
)

func TestNameSortsInTimeOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	type rangeTS struct{ start, end oplog.Timestamp }
	var rs []rangeTS
	pick := func() oplog.Timestamp {
		switch rng.IntN(4) {
		case 0:
			return oplog.Timestamp{T: rng.Uint32N(10), I: rng.Uint32N(10)}
		case 1:
			return oplog.Timestamp{T: math.MaxUint32 - rng.Uint32N(3), I: math.MaxUint32 - rng.Uint32N(3)}
		}
		return oplog.Timestamp{T: rng.Uint32(), I: rng.Uint32()}
	}
	for range 2000 {
		a, b := pick(), pick()
		if b.Before(a) {
			a, b = b, a
		}
		rs = append(rs, rangeTS{a, b})
	}
	byTime := slices.Clone(rs)
	slices.SortFunc(byTime, func(x, y rangeTS) int {
		if c := x.start.Compare(y.start); c != 0 {
			return c
		}
		return x.end.Compare(y.end)
	})
	names := make([]string, len(rs))
	for k, r := range rs {
		names[k] = Name(r.start, r.end)
	}
	slices.Sort(names)
	for k, r := range byTime {
		if names[k] != Name(r.start, r.end) {
			t.Fatalf("position %d: name order %s, time order %s", k, names[k], Name(r.start, r.end))
		}
		s, e, err := ParseName(names[k])
		if err != nil || s != r.start || e != r.end {
			t.Fatalf("ParseName(%s) = %v %v %v", names[k], s, e, err)
		}
	}
}

func TestNameFormat(t *testing.T) {
	got := Name(oplog.Timestamp{T: 1, I: 1}, oplog.Timestamp{T: 2, I: 5})
	if want := "0000000001.0000000001-0000000002.0000000005.tseg"; got != want {
		t.Fatalf("Name = %s, want %s", got, want)
	}
	if got := Name(oplog.Max, oplog.Max); got != "4294967295.4294967295-4294967295.4294967295.tseg" {
		t.Fatalf("Name(Max) = %s", got)
	}
}

func TestParseNameRejects(t *testing.T) {
	good := "0000000001.0000000001-0000000002.0000000005.tseg"
	bad := []string{
		"",
		"x",
		good + "x",
		"/" + good[1:],
		"a/" + good,
		"rs0/" + good,
		strings.Replace(good, ".tseg", ".tsex", 1),
		strings.Replace(good, "-", "_", 1),
		strings.Replace(good, "-", "/", 1),
		"000000001.00000000001-0000000002.0000000005.tseg", // digits moved across the dot
		"0000000001.0000000001-0000000002.000000000+.tseg",
		"+000000001.0000000001-0000000002.0000000005.tseg",
		"0000000001.0000000001-0000000002.000000005 .tseg",
		"4294967296.0000000000-4294967296.0000000000.tseg", // beyond 32 bits
		"9999999999.0000000000-9999999999.0000000000.tseg",
		"0000000002.0000000005-0000000001.0000000001.tseg", // end before start
		"0000000001.0000000001-0000000002.0000000005.TSEG",
	}
	for _, s := range bad {
		if a, b, err := ParseName(s); err == nil {
			t.Errorf("ParseName(%q) = %v, %v; want an error", s, a, b)
		}
	}
	if _, _, err := ParseName(good); err != nil {
		t.Fatal(err)
	}
}

func FuzzParseName(f *testing.F) {
	f.Add("0000000001.0000000001-0000000002.0000000005.tseg")
	f.Add("4294967295.4294967295-4294967295.4294967295.tseg")
	f.Add("0000000000.0000000000-0000000000.0000000000.tseg")
	f.Add("4294967296.0000000000-4294967296.0000000000.tseg")
	f.Add("a/0000000001.0000000001-0000000002.0000000005.tseg")
	f.Fuzz(func(t *testing.T, s string) {
		start, end, err := ParseName(s)
		if err != nil {
			return
		}
		// Accepted names are canonical and well ordered.
		if Name(start, end) != s {
			t.Fatalf("ParseName(%q) accepted a name Name renders as %q", s, Name(start, end))
		}
		if end.Before(start) {
			t.Fatalf("ParseName(%q): end %s before start %s", s, end, start)
		}
		if strings.ContainsAny(s, `/\`) {
			t.Fatalf("ParseName(%q) accepted a path", s)
		}
	})
}
