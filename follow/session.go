package follow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/replay"
	"github.com/tidelog/tidelog/segment"
)

// A cycle applies at most this much before it commits, so that a long
// catch-up commits as it goes and a stop waits for little.
const (
	maxCycleSegments = 256
	maxCycleBytes    = 64 << 20
)

// session applies segments with one Applier from one committed state: a
// process's life, or the time between two failures (a failure discards
// the Applier and starts a session from the last commit).
type session struct {
	f     *Follower
	a     *replay.Applier
	tail  *tail
	cur   *loaded // fetched, partly handed out (held back by --delay or --until)
	state State   // last committed
	// lateChecked is when the store's gaps were last read (checkLate).
	lateChecked time.Time

	through oplog.Timestamp // newest entry handed to the applier
	// counted: entries and segments at or before it were counted by an
	// earlier session (this one reads them again).
	counted oplog.Timestamp
	// Since the last commit.
	consumed          *segment.Info // last segment all of whose entries were handed out
	entries, segments uint64
	// held are the documents named by entries after the resume point: a
	// transaction's are written at its commit, maybe in a later cycle.
	held []heldRef
}

// newSession opens the stream after state, with an Applier that skips
// the entries through its resume point.
func (f *Follower) newSession(ctx context.Context, state State) (*session, error) {
	t, err := openTail(ctx, f.opts.Store, state, f.opts.readOptions())
	if err != nil {
		return nil, err
	}
	opts := f.opts.Apply
	// Entries after Applied are read again (the transactions open there
	// are rebuilt), those through Written not written again.
	opts.After, opts.Written = state.Applied, state.Written
	// The checkpoint's journal (journal.go) puts back what a cut cycle
	// removed, before this session writes: the engine's own would be a
	// second copy of it.
	opts.NoJournal = true
	if err := f.repair(ctx); err != nil {
		return nil, err
	}
	a := replay.NewApplier(f.opts.Target, opts, f.log)
	return &session{f: f, a: a, tail: t, state: state, through: state.Through, counted: state.Through}, nil
}

// repair puts back what a cycle cut short left absent (see journal.go).
func (f *Follower) repair(ctx context.Context) error {
	j, err := f.ckpt.Journal()
	if err != nil || len(j.pre) == 0 {
		return err
	}
	n, gone, err := repair(ctx, f.opts.Target, j.pre)
	if err != nil {
		return err
	}
	if len(gone) > 0 {
		f.log.Warn().Strs("namespaces", gone).
			Msg("the last apply was cut short, and collections it had journaled documents of are gone from the target (dropped by hand?): not recreated; their documents are not put back")
	}
	f.log.Warn().Int("documents", len(j.pre)).Int("put_back", n).
		Msg("the last apply was cut short before its commit: put back the documents it had left absent; applying again from the last commit")
	return nil
}

// checkUnfinished refuses a horizon before what a cycle cut short before
// its commit may have written (UnfinishedCycleError): checked once, at
// the start, before anything is written.
func (f *Follower) checkUnfinished(state State) error {
	upTo, err := f.ckpt.upTo()
	if err != nil {
		return err
	}
	if h := f.horizon(); upTo.After(state.Through) && h.Before(upTo) {
		e := &UnfinishedCycleError{Dir: f.ckpt.Dir(), Horizon: h, UpTo: upTo, Through: state.Through}
		if !f.untilBinds(h) {
			e.Delay = f.opts.Delay
		}
		return e
	}
	return nil
}

// close releases the Applier's spill files.
func (s *session) close() { _ = s.a.Close() }

// cycle applies what is new in the store and may be applied now, up to a
// budget, waits for the target to acknowledge it and commits. It reports
// whether it committed anything. A fetch that fails after other segments
// were verified applies and commits those first, so the failure reports
// (and the target holds) everything before it.
func (s *session) cycle(ctx context.Context) (bool, error) {
	h := s.f.horizon()
	if err := s.checkLate(ctx); err != nil {
		return false, s.placed(err)
	}
	if err := s.tail.refresh(ctx); err != nil {
		return false, err
	}
	spans, ferr := s.gather(ctx, h)
	if len(spans) == 0 {
		if ferr != nil {
			return false, s.placed(ferr)
		}
		s.f.polled(s.tail.newest, !s.due(h))
		return false, nil
	}
	if err := s.journal(ctx, spans); err != nil {
		return false, err
	}
	if err := s.feed(ctx, spans); err != nil {
		return false, err
	}
	s.f.polled(s.tail.newest, !s.due(h))
	if err := s.a.Settle(ctx); err != nil {
		return false, fmt.Errorf("apply through %s: %w", s.through, err)
	}
	if err := s.commit(); err != nil {
		return false, err
	}
	if ferr != nil {
		return true, s.placed(ferr)
	}
	return true, nil
}

// placed says in a failure that stops the follower where the target is:
// the last commit.
func (s *session) placed(err error) error {
	var (
		ge *GapError
		ce *ChainError
		le *LateEntryError
	)
	switch {
	case errors.As(err, &ge):
		ge.Through = s.state.Through
	case errors.As(err, &ce):
		ce.Through = s.state.Through
	case errors.As(err, &le):
		le.Through = s.state.Through
	}
	return err
}

// due tells whether entries up to h wait in the store or in the segment
// being handed out: when not, the follower is caught up.
func (s *session) due(h oplog.Timestamp) bool {
	if s.cur != nil && !s.cur.done() && !s.cur.ts[s.cur.next].After(h) {
		return true
	}
	_, start, ok := s.tail.next()
	return ok && !start.After(h)
}

// span is the entries of one fetched segment a cycle hands out: next up
// to end.
type span struct {
	l   *loaded
	end int
}

// gather picks what the cycle applies: the entries up to h of the segment
// being handed out and of new ones, fetched (and verified, and checked
// against the chain) while their first entry is at or before h. A
// namespace command is applied in a cycle of its own (boundary.go): gather
// stops before one, or right after one that comes first. A fetch that
// fails returns the spans gathered before it with the error.
func (s *session) gather(ctx context.Context, h oplog.Timestamp) ([]span, error) {
	var out []span
	budget, segs, taken := int64(maxCycleBytes), 0, 0
	l := s.cur
	for {
		if l == nil {
			name, start, ok := s.tail.next()
			// Past an --until the store reached, the next segment is still
			// fetched (not applied) while the chain fetched ends before
			// --until: it proves nothing lies between.
			if !ok || (start.After(h) && (!s.f.untilBinds(h) || s.chainReaches(h))) || segs >= maxCycleSegments || budget <= 0 {
				return out, nil
			}
			var err error
			if l, err = s.tail.fetch(ctx, name); err != nil {
				return out, err
			}
			budget, segs = budget-int64(l.info.RawSize), segs+1
		}
		end, cut := l.next, false
		for end < len(l.entries) && !l.ts[end].After(h) {
			if namespaceChange(l.entries[end]) {
				if taken == 0 && end == l.next {
					end++ // alone in its cycle
				}
				cut = true
				break
			}
			end++
		}
		if l == s.cur && end == l.next {
			return out, nil // held back: nothing new in it
		}
		out = append(out, span{l: l, end: end})
		taken += end - l.next
		if cut || end < len(l.entries) {
			return out, nil
		}
		l = nil
	}
}

// journal commits the pre-images of every document the spans may write
// (and of the transactions still open, written at their commit) before
// any of it is written.
//
// A document whose first write in the cycle is a plain insert entry needs
// none: if a kill leaves it absent, the resumed replay applies that insert
// again, and what follows it. Skipping them keeps an insert-heavy cycle
// from reading the target (on FerretDB, a $in query reads the whole
// collection).
func (s *session) journal(ctx context.Context, spans []span) error {
	ns := s.f.opts.Apply.Namespaces
	seen := make(map[string]bool, len(s.held))
	for _, h := range s.held {
		seen[h.ref.key()] = true
	}
	insertedFirst := map[string]bool{}
	for _, sp := range spans {
		for i := sp.l.next; i < sp.end; i++ {
			ts := sp.l.ts[i]
			entry := bson.Raw(sp.l.entries[i])
			op, _ := entry.Lookup("op").StringValueOK()
			// Entries at or before the resume point, or written by a
			// committed cycle (Written), are not written again by the
			// applier: their inserts are not re-applied, so they cannot
			// stand for a document's first write. A transaction's entry
			// ("c": applyOps) up to Written may still be applied, at a
			// commit after it: it never counts as written, which at worst
			// journals a document more.
			applied := !ts.After(s.state.Applied) || (op != "c" && !ts.After(s.state.Written))
			refs(entry, ns, func(r docRef) {
				s.held = append(s.held, heldRef{ts: ts, ref: r})
				if k := r.key(); !seen[k] && !applied {
					seen[k] = true
					insertedFirst[k] = op == "i"
				}
			})
		}
	}
	docs := make([]docRef, 0, len(s.held))
	for _, h := range s.held {
		if !insertedFirst[h.ref.key()] {
			docs = append(docs, h.ref)
		}
	}
	upTo, command := lastEntry(spans)
	if upTo.IsZero() {
		return nil // nothing to write: the commit clears any journal left
	}
	if command {
		// Alone in its cycle (boundary.go): it writes no document, and a
		// pre-image read before it may name a collection it removes.
		docs = nil
	}
	pre, err := readPreimages(ctx, s.f.opts.Target, docs)
	if err != nil {
		return err
	}
	return s.f.ckpt.SaveJournal(pre, upTo)
}

// lastEntry is the ts of the newest entry the spans hand out (zero for
// none), and whether the spans hold only a namespace command.
func lastEntry(spans []span) (oplog.Timestamp, bool) {
	var last oplog.Timestamp
	var entry bson.Raw
	n := 0
	for _, sp := range spans {
		if sp.end > sp.l.next {
			last, entry, n = sp.l.ts[sp.end-1], sp.l.entries[sp.end-1], n+sp.end-sp.l.next
		}
	}
	return last, n == 1 && namespaceChange(entry)
}

// feed hands the spans' entries to the applier.
func (s *session) feed(ctx context.Context, spans []span) error {
	for _, sp := range spans {
		if err := s.apply(ctx, sp.l, sp.end); err != nil {
			return err
		}
		s.cur = sp.l
		if sp.l.done() {
			s.consume(sp.l)
			s.cur = nil
		}
	}
	return nil
}

// apply hands l's entries up to end to the applier.
func (s *session) apply(ctx context.Context, l *loaded, end int) error {
	for ; l.next < end; l.next++ {
		ts := l.ts[l.next]
		if err := s.a.Apply(ctx, bson.Raw(l.entries[l.next])); err != nil {
			return fmt.Errorf("segment %s: %w", l.info.Name, err)
		}
		if ts.After(s.through) {
			s.through = ts
		}
		if ts.After(s.counted) {
			s.entries++
		}
	}
	return nil
}

// consume records a segment all of whose entries were handed out.
func (s *session) consume(l *loaded) {
	info := l.info
	s.consumed = &info
	if info.OpEnd.After(s.counted) {
		s.segments++
	}
}

// commit writes the position the target acknowledged to the checkpoint.
func (s *session) commit() error {
	next := s.state
	if c := s.consumed; c != nil {
		next.Segment, next.Link, next.Encrypted = c.Name, c.Link(), c.Encrypted
	}
	// The resume point only moves forward. The applier starts at the
	// session's resume point, so this is a safety net, not a correction.
	stats := s.a.Stats()
	if a := stats.Applied; a.After(next.Applied) {
		next.Applied = a
	}
	if w := stats.Written; w.After(next.Written) {
		next.Written = w
	}
	if s.through.After(next.Through) {
		next.Through = s.through
	}
	next.Committed = s.f.opts.Clock.Now()
	if hook := s.f.opts.beforeCommit; hook != nil {
		if err := hook(next); err != nil {
			return &stopNow{err: err}
		}
	}
	if err := s.f.ckpt.Save(next); err != nil {
		return err
	}
	s.state, s.tail.applied = next, next.Applied
	s.f.committed(next, s.entries, s.segments, s.a.OpenTxns())
	s.consumed, s.entries, s.segments = nil, 0, 0
	s.held = slices.DeleteFunc(s.held, func(h heldRef) bool { return !h.ts.After(next.Applied) })
	if next.Through.After(s.counted) {
		s.counted = next.Through
	}
	return nil
}

// reached tells whether every entry up to Until is applied: the chain
// fetched reaches Until, and no entry up to it waits in the segment being
// handed out (a cycle ends at a namespace command; --delay holds back the
// rest of a segment, but then Until does not bind). One fetched past Until
// proves nothing lies between.
func (s *session) reached(h oplog.Timestamp) bool {
	return s.f.untilBinds(h) && s.chainReaches(h) && (s.cur == nil || s.cur.done() || s.cur.ts[s.cur.next].After(h))
}

// chainReaches tells whether the segments fetched reach h.
func (s *session) chainReaches(h oplog.Timestamp) bool {
	return s.tail.linked && !s.tail.link.OpEnd.Before(h)
}
