package catalog

import (
	"context"
	"errors"
	"fmt"
	"io"

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
// report progress. It is VerifyWith without keys: encrypted segments get
// the structural check only.
func Verify(ctx context.Context, st store.Store, s *Stream, ok func(segment.Info)) []Problem {
	return VerifyWith(ctx, st, s, segment.ReaderOptions{}, func(c Checked) {
		if ok != nil {
			ok(c.Info)
		}
	})
}

// Checked is a segment VerifyWith found intact.
type Checked struct {
	Info segment.Info
	// Sealed is why the segment's contents were not checked: it is
	// encrypted and its key is not among those given (an error matching
	// segment.ErrKeyRequired or segment.ErrWrongKey, naming the key). Its
	// structure was (segment.VerifyStructure: header, name, sizes, file
	// checksum) and so was its link; whether its body authenticates needs
	// the key. Nil: verified in full.
	Sealed error
}

// VerifyWith is Verify with reader options. A segment that opts cannot
// decrypt is not a problem by itself: without its key, what needs no key is
// checked, and ok is told it stayed sealed, so that a caller can report the
// contents as unverified (no key) or ask for the missing key (a wrong one).
// A plaintext segment where opts.RequireEncryption is a problem, and so is
// a plaintext segment after an encrypted one of the stream, whatever opts
// (ReasonPlaintextAfterEncrypted).
func VerifyWith(ctx context.Context, st store.Store, s *Stream, opts segment.ReaderOptions, ok func(Checked)) []Problem {
	var problems []Problem
	var prev *segment.Info
	first := s.firstEncrypted()
	for i, seg := range s.Segments {
		if s.refused(i, first) {
			problems = append(problems, Problem{Stream: s.Name, Segment: seg.Name, Err: &PlaintextAfterEncryptedError{Segment: seg.Name, First: s.Segments[first].Name}})
			prev = nil
			continue
		}
		c, err := verifyOne(ctx, st, s.Name, seg.Name, opts)
		if err != nil {
			problems = append(problems, Problem{Stream: s.Name, Segment: seg.Name, Err: err})
			prev = nil
			continue
		}
		info := c.Info
		if prev != nil && info.Prev != prev.Link() && !(info.Prev.IsZero() && s.gapAfter(prev)) {
			problems = append(problems, Problem{Stream: s.Name, Segment: seg.Name, Err: fmt.Errorf(
				"chain broken: links to %s (checksum %08x) but the segment before it is %s ending %s (checksum %08x), and no gap is recorded there",
				info.Prev.OpEnd, info.Prev.Checksum, prev.Name, prev.OpEnd, prev.Checksum)})
		}
		if ok != nil {
			ok(c)
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

// verifyOne verifies a segment in full, or, when opts holds no key for it,
// its structure.
func verifyOne(ctx context.Context, st store.Store, stream, name string, opts segment.ReaderOptions) (Checked, error) {
	info, err := verifyStored(ctx, st, stream, name, func(r io.Reader) (segment.Info, error) { return segment.VerifyWith(r, name, opts) })
	if !errors.Is(err, segment.ErrKeyRequired) && !errors.Is(err, segment.ErrWrongKey) {
		return Checked{Info: info}, err
	}
	sealed := err
	info, err = verifyStored(ctx, st, stream, name, func(r io.Reader) (segment.Info, error) { return segment.VerifyStructure(r, name) })
	if err != nil {
		return Checked{}, err
	}
	return Checked{Info: info, Sealed: sealed}, nil
}

func verifyStored(ctx context.Context, st store.Store, stream, name string, verify func(io.Reader) (segment.Info, error)) (segment.Info, error) {
	rc, err := st.OpenSegment(ctx, stream, name)
	if err != nil {
		return segment.Info{}, err
	}
	defer rc.Close()
	return verify(rc)
}

// PlaintextAfterEncryptedError is VerifyWith's problem for a plaintext
// segment after an encrypted one of its stream. It matches
// segment.ErrCorrupt: the store holds what tailerd did not write as it is.
type PlaintextAfterEncryptedError struct {
	Segment string // the plaintext segment
	First   string // the stream's first encrypted segment
}

func (e *PlaintextAfterEncryptedError) Error() string {
	return ReasonPlaintextAfterEncrypted + " (the stream is encrypted since segment " + e.First +
		"); no restore crosses it: check where it came from, then move it out of the store"
}

// Is matches segment.ErrCorrupt.
func (e *PlaintextAfterEncryptedError) Is(target error) bool { return target == segment.ErrCorrupt }
