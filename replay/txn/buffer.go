// Package txn turns a replica set's oplog, read in ts order, into what a
// replayer applies: ordinary entries at once, transactions whole at their
// commit point, aborted and unfinished transactions never.
//
// MongoDB writes a transaction in one of these shapes (fixtures and
// references in /work/shared/fixtures/oplog_schema.md, section 3):
//
//   - small, unprepared: one applyOps entry with lsid and txnNumber; it
//     commits at its own ts.
//   - large, unprepared (4.2+): applyOps entries with o.partialTxn, each
//     linked to the previous by prevOpTime, then a final applyOps without
//     partialTxn (with o.count); it commits at the final entry.
//   - prepared (sharded 2PC): applyOps entries, the last with o.prepare; later
//     a commitTransaction entry (o.commitTimestamp) or abortTransaction.
//
// and these applyOps are not transactions, so their operations apply at once:
// a user applyOps command or a 6.0+ batched write (no lsid/txnNumber), an
// 8.0 vectored insert (multiOpType 1). Session-less chains of partialTxn
// applyOps (large batched writes, 7.0+) are buffered like a transaction and
// linked by prevOpTime.
//
// The Buffer never applies anything; it tells the caller what to apply, and
// keeps the operations of open transactions, in memory up to a bound and in
// spill files beyond it.
package txn

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"slices"
	"strconv"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/oplog"
)

// DefaultMaxMemory is the memory bound of a Buffer whose Options leave it 0.
const DefaultMaxMemory = 64 << 20

// Options configure a Buffer.
type Options struct {
	// MaxMemory bounds the bytes of operations of open transactions held in
	// memory, all transactions together. Past it, the largest transactions
	// move to spill files. Zero or negative means DefaultMaxMemory.
	MaxMemory int64
	// SpillDir is the directory for spill files; "" means os.TempDir().
	SpillDir string
}

// Stats counts what a Buffer did.
type Stats struct {
	Open         int    // transactions open now
	MemBytes     int64  // bytes of buffered operations in memory now (<= MaxMemory after every Add)
	Committed    uint64 // transactions handed out as Commit
	Aborted      uint64 // transactions dropped at abortTransaction
	Spilled      uint64 // transactions moved to a spill file
	SpilledBytes uint64 // bytes of operations written to spill files
}

// PendingTxn describes an open transaction: its start was seen, its commit or
// abort not (yet).
type PendingTxn struct {
	ID       ID
	FirstTS  oplog.Timestamp // ts of its first entry
	LastTS   oplog.Timestamp // ts of its latest entry (the prepare, for a prepared transaction)
	Entries  int             // applyOps entries seen
	Ops      int             // operations buffered
	Bytes    int64           // bytes buffered, in memory or on disk (plus a 4-byte checksum per operation)
	Prepared bool
	Spilled  bool
}

// Buffer routes the entries of one oplog stream. Feed it every entry, in ts
// order, with Add, and act on each returned Action before the next Add.
//
// Invariants, after every Add:
//   - an open transaction's operations are buffered in order, each exactly
//     once, in memory or in its spill file;
//   - Stats().MemBytes <= the memory bound;
//   - an Add that returns an *EntryError or *TxnError changed no open
//     transaction (Pending and the counters are as before).
//
// The Buffer relies on ts order (a transaction's entries before its commit)
// but does not check it: that is the reader's job.
//
// A Buffer is not safe for concurrent use. It holds no global state; temp
// files are its only side effect, and Close removes them.
type Buffer struct {
	maxMem int64
	dir    string

	txns   map[string]*txnState          // open transactions by ID.key
	chains map[oplog.Timestamp]*txnState // open session-less chains by the ts of their latest entry
	mem    int64                         // bytes in the arenas of txns and done

	gen  uint64    // Add calls; an Action is valid while gen is unchanged
	done *txnState // committed at the last Add; released at the next

	err        error // sticky spill failure
	cleanupErr error // spill files that could not be removed, for Close
	closed     bool
	stats      Stats
}

// txnState is one open transaction.
type txnState struct {
	id          ID // LSID owned (copied)
	first, last oplog.Timestamp
	entries     int
	prepared    bool
	top         int64      // top-level operations, as o.count counts them
	n           int        // operations buffered (nested applyOps expanded)
	arena       []byte     // in-memory operations: concatenated BSON documents
	spill       *spillFile // non-nil once moved to disk; arena is then nil
}

func (t *txnState) bytes() int64 {
	if t.spill != nil {
		return t.spill.size
	}
	return int64(len(t.arena))
}

// New returns an empty Buffer.
func New(opts Options) *Buffer {
	b := &Buffer{
		maxMem: opts.MaxMemory,
		dir:    opts.SpillDir,
		txns:   make(map[string]*txnState),
		chains: make(map[oplog.Timestamp]*txnState),
	}
	if b.maxMem <= 0 {
		b.maxMem = DefaultMaxMemory
	}
	if b.dir == "" {
		b.dir = os.TempDir()
	}
	return b
}

// Add routes one oplog entry and says what to do with it (see Kind). Every
// call ends the Action of the previous one, even a call that fails: a
// transaction committed by the previous entry is released (its memory, its
// spill file), so act on each Action before feeding the next entry.
//
// Errors:
//   - *EntryError (ErrMalformed, ErrUnsupported): the entry cannot be read
//     or is of an unknown kind. No open transaction changed.
//   - *TxnError (ErrUnknownTransaction, ErrBrokenChain): a transaction entry
//     that does not fit, e.g. the commit of a transaction whose start was
//     never seen. No open transaction changed; the caller decides whether to
//     stop or to report the transaction as not restored and go on.
//   - ErrSpill: a spill file could not be written. Sticky: every later Add
//     returns it.
//   - ctx.Err(), when ctx is done as Add starts; the entry was not looked
//     at. Once Add has started buffering it finishes, so cancellation never
//     leaves a transaction half-buffered.
//   - ErrClosed after Close.
//
// The Buffer copies what it keeps of entry; the caller may reuse entry's
// bytes once it is done with the returned Action.
func (b *Buffer) Add(ctx context.Context, entry bson.Raw) (Action, error) {
	if b.closed {
		return Action{}, ErrClosed
	}
	b.gen++ // the previous Action ends here, whatever happens next
	b.release()
	if b.err != nil {
		return Action{}, b.err
	}
	if err := ctx.Err(); err != nil {
		return Action{}, err
	}
	e, err := parseEntry(entry)
	if err != nil {
		return Action{}, err
	}
	act := Action{TS: e.ts, StartTS: e.ts, CommitTimestamp: e.ts, b: b, gen: b.gen}
	switch e.kind {
	case plainEntry:
		act.Kind, act.plain, act.Count = Apply, entry, 1
		return act, nil
	case commitEntry:
		return b.commit(act, &e)
	case abortEntry:
		return b.abort(act, &e)
	}
	switch {
	case e.separate:
		if e.prepare {
			return Action{}, malformed(e.ts, nil, "applyOps with multiOpType 1 (applied separately) and prepare")
		}
		return b.applyNow(act, &e)
	case e.session:
		return b.applyOpsTxn(act, &e, b.txns[e.id.key()])
	case e.prepare:
		return Action{}, unsupported(e.ts, "prepared applyOps without lsid and txnNumber")
	case e.partial || !e.prev.IsZero():
		// A session-less chain (large batched write). Its entries are linked
		// only by prevOpTime; a first entry is named by its own ts.
		if e.prev.IsZero() {
			e.id = ID{Chain: e.ts}
			return b.applyOpsTxn(act, &e, nil)
		}
		st := b.chains[e.prev]
		if st != nil {
			e.id = st.id
		}
		return b.applyOpsTxn(act, &e, st)
	default:
		return b.applyNow(act, &e)
	}
}

// applyNow answers Apply for an applyOps that is not a transaction.
func (b *Buffer) applyNow(act Action, e *entry) (Action, error) {
	hdr, err := header(e.raw)
	if err != nil {
		return Action{}, malformed(e.ts, err, "cannot read the fields operations inherit")
	}
	act.Kind, act.hdr, act.tail, act.Count = Apply, hdr, e.ops, len(e.ops)
	return act, nil
}

// applyOpsTxn handles an applyOps entry of a transaction (or of a
// session-less chain); st is the open transaction with the entry's ID, if any.
func (b *Buffer) applyOpsTxn(act Action, e *entry, st *txnState) (Action, error) {
	what := "applyOps"
	switch {
	case e.partial:
		what = "partial applyOps"
	case e.prepare:
		what = "prepare applyOps"
	}
	fail := func(kind error, detail string) (Action, error) {
		te := &TxnError{ID: e.id.clone(), TS: e.ts, Entry: what, PrevOpTime: e.prev, Kind: kind, Detail: detail}
		if st != nil {
			te.StartTS = st.first
		}
		return Action{}, te
	}
	terminal := !e.partial
	if st == nil {
		if !e.prev.IsZero() {
			return fail(ErrUnknownTransaction, "the transaction's earlier entries were not seen (does the oplog range start inside it?); its operations cannot be applied")
		}
		if terminal && e.hasCount && e.count != int64(e.top) {
			return fail(ErrBrokenChain, "count says "+itoa(e.count)+" operations, the entry has "+itoa(int64(e.top)))
		}
	} else {
		switch {
		case st.prepared:
			return fail(ErrBrokenChain, "an applyOps after the transaction was prepared at "+st.last.String())
		case e.prev.IsZero():
			return fail(ErrBrokenChain, "starts the transaction again, but it is open since "+st.first.String())
		case e.prev != st.last:
			return fail(ErrBrokenChain, "prevOpTime does not point at the transaction's latest entry "+st.last.String()+": an entry is missing")
		case terminal && e.hasCount && e.count != st.top+int64(e.top):
			return fail(ErrBrokenChain, "count says "+itoa(e.count)+" operations, the transaction has "+itoa(st.top+int64(e.top)))
		}
	}
	if terminal && !e.prepare {
		// Commit: the buffered operations, then this entry's own.
		hdr, err := header(e.raw)
		if err != nil {
			return Action{}, malformed(e.ts, err, "cannot read the fields operations inherit")
		}
		act.Kind, act.hdr, act.tail = Commit, hdr, e.ops
		act.Count = len(e.ops)
		act.Txn = e.id.clone()
		if st != nil {
			b.forget(st)
			b.done = st
			act.st, act.Txn, act.StartTS = st, st.id, st.first
			act.Count += st.n
		}
		b.stats.Committed++
		return act, nil
	}
	// Absorb: a partialTxn or prepare entry.
	isNew := st == nil
	if isNew {
		st = &txnState{id: e.id.clone(), first: e.ts}
	}
	if err := b.store(st, e.ops); err != nil {
		b.err = err
		if isNew && st.spill != nil {
			b.drop(st)
		}
		return Action{}, err
	}
	if st.id.LSID == nil {
		delete(b.chains, st.last)
		b.chains[e.ts] = st
	}
	st.last = e.ts
	st.entries++
	st.top += int64(e.top)
	st.prepared = e.prepare
	if isNew {
		b.txns[st.id.key()] = st
	}
	act.Kind, act.Txn, act.StartTS, act.Prepared, act.Count = Absorb, st.id, st.first, st.prepared, len(e.ops)
	return act, nil
}

// commit handles commitTransaction. The entry's prevOpTime points at the
// prepare entry on real servers and at the first entry in mongo-tools'
// hand-built fixture; both are accepted, anything else is a broken chain.
func (b *Buffer) commit(act Action, e *entry) (Action, error) {
	st, err := b.ending(e, "commitTransaction")
	if err != nil {
		return Action{}, err
	}
	if !st.prepared {
		return Action{}, b.ended(e, st, "commitTransaction", ErrBrokenChain,
			"commitTransaction of a transaction that was never prepared")
	}
	hdr, err := header(e.raw)
	if err != nil {
		return Action{}, malformed(e.ts, err, "cannot read the fields operations inherit")
	}
	b.forget(st)
	b.done = st
	act.Kind, act.Txn, act.StartTS, act.CommitTimestamp, act.Prepared = Commit, st.id, st.first, e.commitTS, true
	act.hdr, act.st, act.Count = hdr, st, st.n
	b.stats.Committed++
	return act, nil
}

// abort handles abortTransaction: the transaction's operations are dropped.
// The server writes it for prepared transactions only; an abort of an open
// unprepared chain is accepted too, since discarding is all it can mean.
func (b *Buffer) abort(act Action, e *entry) (Action, error) {
	st, err := b.ending(e, "abortTransaction")
	if err != nil {
		return Action{}, err
	}
	b.forget(st)
	b.drop(st)
	act.Kind, act.Txn, act.StartTS, act.Prepared, act.Count = Abort, st.id, st.first, st.prepared, st.n
	b.stats.Aborted++
	return act, nil
}

// ending finds the open transaction a commit or abort ends.
func (b *Buffer) ending(e *entry, what string) (*txnState, error) {
	st := b.txns[e.id.key()]
	if st == nil {
		return nil, b.ended(e, nil, what, ErrUnknownTransaction,
			"its prepare was not seen (does the oplog range start after it?); its operations cannot be applied")
	}
	if !e.prev.IsZero() && e.prev != st.last && e.prev != st.first {
		return nil, b.ended(e, st, what, ErrBrokenChain,
			"prevOpTime points at neither the prepare entry "+st.last.String()+" nor the first entry "+st.first.String())
	}
	return st, nil
}

func (b *Buffer) ended(e *entry, st *txnState, what string, kind error, detail string) error {
	te := &TxnError{ID: e.id.clone(), TS: e.ts, Entry: what, PrevOpTime: e.prev, Kind: kind, Detail: detail}
	if st != nil {
		te.StartTS = st.first
	}
	return te
}

// forget removes st from the open transactions; its operations stay until
// drop.
func (b *Buffer) forget(st *txnState) {
	delete(b.txns, st.id.key())
	if st.id.LSID == nil && b.chains[st.last] == st {
		delete(b.chains, st.last)
	}
}

// store appends ops to st, in memory while the bound allows, else moving the
// largest in-memory transaction (st included) to disk until the rest fits.
func (b *Buffer) store(st *txnState, ops []bson.Raw) error {
	var size int64
	for _, op := range ops {
		size += int64(len(op))
	}
	for st.spill == nil && b.mem+size > b.maxMem {
		victim, vsize := st, int64(len(st.arena))+size
		for _, t := range b.txns {
			if t.spill == nil && int64(len(t.arena)) > vsize {
				victim, vsize = t, int64(len(t.arena))
			}
		}
		if err := b.spillOut(victim); err != nil {
			return err
		}
	}
	if st.spill != nil {
		for _, op := range ops {
			if err := st.spill.append(op); err != nil {
				return err
			}
		}
		b.stats.SpilledBytes += uint64(size)
	} else {
		for _, op := range ops {
			st.arena = append(st.arena, op...)
		}
		b.mem += size
	}
	st.n += len(ops)
	return nil
}

// spillOut moves st's in-memory operations to a new spill file.
func (b *Buffer) spillOut(st *txnState) error {
	sf, err := createSpill(b.dir)
	if err != nil {
		return err
	}
	for rest := st.arena; len(rest) > 0; {
		n := binary.LittleEndian.Uint32(rest)
		if err := sf.append(rest[:n]); err != nil {
			_ = sf.remove() // the write error is the one to report
			return err
		}
		rest = rest[n:]
	}
	b.mem -= int64(len(st.arena))
	b.stats.Spilled++
	b.stats.SpilledBytes += uint64(len(st.arena))
	st.arena, st.spill = nil, sf
	return nil
}

// release frees the transaction the previous Add committed.
func (b *Buffer) release() {
	if st := b.done; st != nil {
		b.done = nil
		b.drop(st)
	}
}

// drop frees st's operations. A spill file that cannot be removed does not
// stop the replay; Close reports it.
func (b *Buffer) drop(st *txnState) {
	if st.spill != nil {
		if err := st.spill.remove(); err != nil {
			b.cleanupErr = errors.Join(b.cleanupErr, err)
		}
		st.spill = nil
	}
	b.mem -= int64(len(st.arena))
	st.arena = nil
}

// Pending lists the open transactions, oldest first. At the end of a replay
// to --to T these are the transactions that started at or before T and
// commit after it (or never): not applied, and worth reporting.
func (b *Buffer) Pending() []PendingTxn {
	out := make([]PendingTxn, 0, len(b.txns))
	for _, st := range b.txns {
		out = append(out, PendingTxn{
			ID: st.id, FirstTS: st.first, LastTS: st.last, Entries: st.entries,
			Ops: st.n, Bytes: st.bytes(), Prepared: st.prepared, Spilled: st.spill != nil,
		})
	}
	slices.SortFunc(out, func(x, y PendingTxn) int {
		if c := x.FirstTS.Compare(y.FirstTS); c != 0 {
			return c
		}
		return cmp.Compare(x.ID.key(), y.ID.key())
	})
	return out
}

// Resolves tells, changing nothing, whether entry is the commitTransaction
// or abortTransaction of an open prepared transaction. A replay cut at a
// position T reads on past T for these entries alone: a prepared
// transaction's outcome and commitTimestamp are written after its prepare,
// often after T, while whether it belongs in the state at T depends on that
// commitTimestamp only. Every other entry, an applyOps included, is not
// looked into (false, nil), so data after T cannot fail the replay; a
// commit or abort that cannot be read is an *EntryError.
func (b *Buffer) Resolves(entry bson.Raw) (bool, error) {
	if b.closed {
		return false, ErrClosed
	}
	if !endsTransaction(entry) {
		return false, nil
	}
	e, err := parseEntry(entry)
	if err != nil {
		return false, err
	}
	st := b.txns[e.id.key()]
	return st != nil && st.prepared, nil
}

// OldestOpen returns the first ts of the oldest open transaction, and false
// when none is open. Every entry before it is settled (applied, or part of a
// transaction that ended); a resumable replay must restart its reading there,
// not after its last applied entry, or it loses the open transactions.
func (b *Buffer) OldestOpen() (oplog.Timestamp, bool) {
	var oldest oplog.Timestamp
	found := false
	for _, st := range b.txns {
		if !found || st.first.Before(oldest) {
			oldest, found = st.first, true
		}
	}
	return oldest, found
}

// Stats returns the counters.
func (b *Buffer) Stats() Stats {
	s := b.stats
	s.Open, s.MemBytes = len(b.txns), b.mem
	return s
}

// Close releases everything: open transactions are dropped (call Pending
// first to report them) and every spill file is removed. It reports spill
// files that could not be removed, now or earlier. Close is idempotent; the
// Buffer is unusable afterwards.
func (b *Buffer) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	b.release()
	for _, st := range b.txns {
		b.drop(st)
	}
	clear(b.txns)
	clear(b.chains)
	return b.cleanupErr
}

func (id ID) clone() ID {
	if id.LSID != nil {
		id.LSID = append(bson.Raw(nil), id.LSID...)
	}
	return id
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
