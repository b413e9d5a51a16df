package plan

import (
	"fmt"
	"sort"
	"strings"

	"github.com/tidelog/tidelog/catalog"
	"github.com/tidelog/tidelog/oplog"
)

// Range is the positions From..To, both included.
type Range struct{ From, To oplog.Timestamp }

func (r Range) String() string { return r.From.String() + ".." + r.To.String() }

// Member is one replica set of a cluster as planning needs it: its stream
// and its complete snapshots.
type Member struct {
	Stream *catalog.Stream
	Bases  []Base
}

// ClusterRanges returns the positions restorable on every member at once:
// the intersection of each member's windows, as ordered, disjoint ranges.
// A cluster is consistent only at a position every shard and the config
// server reach, so the latest of these is the newest position no replica
// set lags behind: the minimum of their durable ends.
func ClusterRanges(members []Member) []Range {
	var common []Range
	for i, m := range members {
		own := merge(windowRanges(Windows(m.Stream, m.Bases)))
		if i == 0 {
			common = own
			continue
		}
		common = intersect(common, own)
	}
	return common
}

// ClusterError says a position is not restorable on every member, and
// which positions are.
type ClusterError struct {
	To       oplog.Timestamp
	Common   []Range
	PerShard map[string][]Range // stream name: its own restorable ranges
}

func (e *ClusterError) Error() string {
	names := make([]string, 0, len(e.PerShard))
	for n := range e.PerShard {
		names = append(names, n)
	}
	sort.Strings(names)
	per := make([]string, len(names))
	for i, n := range names {
		per[i] = n + ": " + joinRanges(e.PerShard[n])
	}
	if len(e.Common) == 0 {
		return fmt.Sprintf("no position is restorable on every replica set of the cluster (%s): a replica set lagging behind or a gap on one of them leaves no common window; wait for every tailer to catch up, or take snapshots after the gap",
			strings.Join(per, "; "))
	}
	return fmt.Sprintf("%s is not restorable on every replica set of the cluster; restorable on all: %s (%s)", e.To, joinRanges(e.Common), strings.Join(per, "; "))
}

// Cluster plans a restore of every member to the same position (oplog.Max:
// the latest position restorable on all). Each member's plan is Restore's
// for that position.
func Cluster(members []Member, to oplog.Timestamp) (oplog.Timestamp, []Plan, error) {
	common := ClusterRanges(members)
	if to == oplog.Max && len(common) > 0 {
		to = common[len(common)-1].To
	}
	if !inRanges(common, to) {
		e := &ClusterError{To: to, Common: common, PerShard: map[string][]Range{}}
		for _, m := range members {
			e.PerShard[m.Stream.Name] = merge(windowRanges(Windows(m.Stream, m.Bases)))
		}
		return to, nil, e
	}
	plans := make([]Plan, len(members))
	for i, m := range members {
		p, err := Restore(m.Stream, m.Bases, to)
		if err != nil {
			return to, nil, err // cannot happen for a position in every member's windows
		}
		plans[i] = p
	}
	return to, plans, nil
}

func windowRanges(ws []Window) []Range {
	out := make([]Range, len(ws))
	for i, w := range ws {
		out[i] = Range{From: w.From, To: w.To}
	}
	return out
}

// merge sorts ranges and joins the ones that overlap or touch.
func merge(rs []Range) []Range {
	sort.Slice(rs, func(i, j int) bool { return rs[i].From.Before(rs[j].From) })
	var out []Range
	for _, r := range rs {
		if n := len(out); n > 0 && !r.From.After(out[n-1].To) {
			if r.To.After(out[n-1].To) {
				out[n-1].To = r.To
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

// intersect returns the positions in both a and b (each ordered, disjoint).
func intersect(a, b []Range) []Range {
	var out []Range
	for i, j := 0, 0; i < len(a) && j < len(b); {
		from := a[i].From
		if b[j].From.After(from) {
			from = b[j].From
		}
		to := a[i].To
		if b[j].To.Before(to) {
			to = b[j].To
		}
		if !from.After(to) {
			out = append(out, Range{From: from, To: to})
		}
		if a[i].To.Before(b[j].To) {
			i++
		} else {
			j++
		}
	}
	return out
}

func inRanges(rs []Range, ts oplog.Timestamp) bool {
	for _, r := range rs {
		if !ts.Before(r.From) && !ts.After(r.To) {
			return true
		}
	}
	return false
}

func joinRanges(rs []Range) string {
	if len(rs) == 0 {
		return "none"
	}
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = r.String()
	}
	return strings.Join(s, ", ")
}
