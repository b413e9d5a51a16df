package catalog

import (
	"context"
	"fmt"

	"github.com/tidelog/tidelog/segment"
	"github.com/tidelog/tidelog/store"
)

// Problem is one thing Verify found wrong.
type Problem struct {
	Stream  string
	Segment string
	Err     error
}

func (p Problem) String() string {
	if p.Segment == "" {
		return fmt.Sprintf("%s: %v", p.Stream, p.Err)
	}
	return fmt.Sprintf("%s/%s: %v", p.Stream, p.Segment, p.Err)
}

// Verify reads every segment of s in full, checking every checksum and that
// each segment links (opEnd and checksum) to the one before it. Breaks that a
// recorded gap explains are history lost at the source, not damage, and are
// not problems; every other break is. ok, called after each segment, may
// report progress.
func Verify(ctx context.Context, st store.Store, s *Stream, ok func(segment.Info)) []Problem {
	var problems []Problem
	var prev *segment.Info
	for _, seg := range s.Segments {
		info, err := verifyOne(ctx, st, s.Name, seg.Name)
		if err != nil {
			problems = append(problems, Problem{Stream: s.Name, Segment: seg.Name, Err: err})
			prev = nil
			continue
		}
		if prev != nil && info.Prev != prev.Link() && !(info.Prev.IsZero() && s.gapAfter(prev)) {
			problems = append(problems, Problem{Stream: s.Name, Segment: seg.Name, Err: fmt.Errorf(
				"chain broken: links to %s (checksum %08x) but the segment before it is %s ending %s (checksum %08x), and no gap is recorded there",
				info.Prev.OpEnd, info.Prev.Checksum, prev.Name, prev.OpEnd, prev.Checksum)})
		}
		if ok != nil {
			ok(info)
		}
		prev = &info
	}
	return problems
}

func (s *Stream) gapAfter(prev *segment.Info) bool {
	for _, g := range s.Gaps {
		if g.After == prev.OpEnd {
			return true
		}
	}
	return false
}

func verifyOne(ctx context.Context, st store.Store, stream, name string) (segment.Info, error) {
	rc, err := st.OpenSegment(ctx, stream, name)
	if err != nil {
		return segment.Info{}, err
	}
	defer rc.Close()
	return segment.Verify(rc, name)
}
