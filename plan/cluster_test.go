package plan

import (
	"errors"
	"strings"
	"testing"

	"github.com/tidelog/tidelog/oplog"
)

func named(m Member, name string) Member { m.Stream.Name = name; return m }

func TestClusterRanges(t *testing.T) {
	// cfg reaches 100.30; rs1 only 100.25 (it lags); rs2 has a gap 21..39
	// and a snapshot after it.
	cfg := named(Member{Stream: stream(t, false, nil, [2]uint32{1, 30})}, "cfg")
	rs1 := named(Member{Stream: stream(t, false, nil, [2]uint32{1, 10}, [2]uint32{11, 25})}, "rs1")
	rs2 := named(Member{Stream: stream(t, false, map[int]bool{1: true}, [2]uint32{1, 20}, [2]uint32{40, 50}),
		Bases: []Base{{ID: "s", Start: ts(41), End: ts(42)}}}, "rs2")

	got := ClusterRanges([]Member{cfg, rs1, rs2})
	if len(got) != 1 || got[0] != (Range{From: ts(1), To: ts(20)}) {
		t.Fatalf("common ranges %v, want [100.1..100.20]: rs2's gap cuts at 20, and rs1 never reaches 42", got)
	}

	to, plans, err := Cluster([]Member{cfg, rs1, rs2}, oplog.Max)
	if err != nil || to != ts(20) || len(plans) != 3 {
		t.Fatalf("latest cluster position = %v, %d plans, %v; want 100.20 and 3 plans", to, len(plans), err)
	}
	for i, p := range plans {
		if p.To != ts(20) {
			t.Errorf("member %d planned to %v, want 100.20", i, p.To)
		}
	}

	_, _, err = Cluster([]Member{cfg, rs1, rs2}, ts(26))
	var ce *ClusterError
	if !errors.As(err, &ce) || len(ce.Common) != 1 || !strings.Contains(err.Error(), "rs1: 100.1..100.25") {
		t.Fatalf("100.26 (rs1 has not reached it): %v; want a ClusterError listing each replica set's windows", err)
	}
}

func TestIntersectAndMerge(t *testing.T) {
	r := func(a, b uint32) Range { return Range{From: ts(a), To: ts(b)} }
	merged := merge([]Range{r(5, 8), r(1, 3), r(3, 4), r(7, 10)})
	if len(merged) != 2 || merged[0] != r(1, 4) || merged[1] != r(5, 10) {
		t.Errorf("merge = %v", merged)
	}
	got := intersect([]Range{r(1, 4), r(6, 10), r(12, 20)}, []Range{r(3, 7), r(9, 13), r(20, 30)})
	want := []Range{r(3, 4), r(6, 7), r(9, 10), r(12, 13), r(20, 20)}
	if len(got) != len(want) {
		t.Fatalf("intersect = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("intersect = %v, want %v", got, want)
		}
	}
}
