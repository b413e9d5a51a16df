package replay

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/replay/txn"
)

// Apply applies one raw oplog entry in oplog order. Entries of a
// transaction wait in the transaction buffer (spilling to disk when large)
// and are applied at the commit entry, each carrying the commit's ts, so a
// replay that stops before the commit leaves the transaction out. Its
// operations join the batch in commit order like any others: every
// document still sees its changes in oplog order, and no flush per
// transaction is paid (on FerretDB a flush costs collection scans, and
// barriers per transaction made replay 30× slower). The writes are not
// atomic on the target; doing them in a target transaction where the
// target supports one is future work. The entry's bytes are copied when
// kept, so callers may reuse their buffer.
func (a *Applier) Apply(ctx context.Context, entry bson.Raw) error {
	a.stats.Entries++
	seen, err := a.resumed(entry)
	switch {
	case err != nil:
		return err
	case seen == seenApplied:
		a.stats.Resumed++
		return nil
	case seen == seenWritten:
		a.stats.Resumed++
		return a.rewritten(ctx, entry)
	}
	if err := a.openJournal(ctx); err != nil {
		return err
	}
	act, err := a.txns.Add(ctx, entry)
	if err != nil {
		return a.unsupported(a.txnError(err), entry)
	}
	switch act.Kind {
	case txn.Apply:
		return a.applyAction(ctx, &act)
	case txn.Commit:
		a.stats.TxnsCommitted++
		if err := a.applyAction(ctx, &act); err != nil {
			return fmt.Errorf("transaction %s committed at %s: %w", act.Txn, act.TS, err)
		}
		return nil
	case txn.Abort:
		a.stats.TxnsAborted++
	}
	return a.noteApplied(act.TS)
}

// Check tells, without writing, which target namespaces an entry writes
// (through writes) and whether the replayer can apply it, so that a replay
// can refuse an occupied target or an unsupported entry before its first
// write. Like Apply, it sees transactions whole, at their commit.
func (a *Applier) Check(ctx context.Context, entry bson.Raw, writes func(ns string)) error {
	seen, err := a.resumed(entry)
	switch {
	case err != nil || seen == seenApplied:
		return err
	case seen == seenWritten:
		// Written by the stopped replay: nothing to check, but its
		// transactions' entries must be known for their commits after.
		_, err := a.txns.Add(ctx, entry)
		if err != nil && !startedBefore(err) {
			return a.txnError(err)
		}
		return nil
	}
	act, err := a.txns.Add(ctx, entry)
	if err != nil {
		return a.txnError(err)
	}
	if act.Kind != txn.Apply && act.Kind != txn.Commit {
		return nil
	}
	return a.checkOps(ctx, &act, writes)
}

// applyAction batches the operations of an Apply or Commit. While they go
// in, a flush (a full batch, a command among them) must not move the resume
// point past the entry's or transaction's start: the rest of its operations
// are not written yet, and a replay resumed past its commit entry would
// never apply them.
func (a *Applier) applyAction(ctx context.Context, act *txn.Action) error {
	if act.Kind == txn.Commit || act.Count > 1 {
		a.applying, a.applyingAt = act.StartTS, act.TS
		defer func() { a.applying, a.applyingAt = oplog.Timestamp{}, oplog.Timestamp{} }()
	}
	return act.Ops(ctx, func(op bson.Raw) error { return a.applyOne(ctx, op) })
}

// checkOps checks, without writing, every operation of an Apply or Commit,
// telling writes the target namespaces.
func (a *Applier) checkOps(ctx context.Context, act *txn.Action, writes func(ns string)) error {
	return act.Ops(ctx, func(op bson.Raw) error {
		ns, err := a.checkOne(op)
		if ns != "" && writes != nil {
			writes(ns)
		}
		return err
	})
}

// seen says what the replay being resumed did with an entry.
type seen uint8

const (
	seenNew     seen = iota // not taken by it: apply
	seenApplied             // at or before Options.After: fully applied, skip
	seenWritten             // after After, at or before Options.Written: written, but for open transactions
)

// resumed checks that positions rise, and tells an entry the replay
// being resumed already applied or wrote.
// Entries at or before After need no transaction care: the resume point
// never lies past the start of a transaction that was still open. Those
// up to Written do (see rewritten).
func (a *Applier) resumed(entry bson.Raw) (seen, error) {
	ts, err := oplog.EntryTS(entry)
	if err != nil {
		return seenNew, err
	}
	// Positions must rise: an entry at or before one already taken means a
	// damaged source or files given out of order, and applying it would
	// undo later writes (a delete then a re-insert) without a word.
	if !a.taken.IsZero() && !ts.After(a.taken) {
		return seenNew, fmt.Errorf("oplog entry at %s comes after %s: entries out of order (a damaged source, or oplog files given out of order); nothing after %s is applied", ts, a.taken, a.taken)
	}
	a.taken = ts
	switch {
	case a.opts.After.IsZero() && a.opts.Written.IsZero():
		return seenNew, nil
	case !ts.After(a.opts.After):
		a.last = a.opts.After
		a.stats.Applied = a.opts.After
		return seenApplied, nil
	case !ts.After(a.opts.Written):
		return seenWritten, nil
	}
	return seenNew, nil
}

// rewritten takes an entry the stopped replay wrote (after After, at or
// before Written) without writing it again. Invariants it keeps:
//   - the transaction buffer sees every transaction entry after After, so a
//     transaction open at Written is rebuilt and applied at its commit, and
//     a commit or abort at or before Written ends (not applies) its own;
//   - index commands act on the deferred index builds (cmds.dry), which
//     the stopped replay may not have built: they are built as they would
//     have been, and hold the resume point as they did;
//   - the positions move on as if the entry had been applied.
//
// A transaction entry whose transaction began at or before After (the
// buffer never saw its start) belongs to one that ended by Written: the
// resume point lies before every transaction open at Written. It is
// passed over; were the transaction still open, its next entry after
// Written would stop the replay, naming it.
func (a *Applier) rewritten(ctx context.Context, entry bson.Raw) error {
	act, err := a.txns.Add(ctx, entry)
	if err != nil {
		if !startedBefore(err) {
			return a.unsupported(a.txnError(err), entry)
		}
		ts, _ := oplog.EntryTS(entry) // read by resumed
		return a.noteApplied(ts)
	}
	if act.Kind == txn.Apply || act.Kind == txn.Commit {
		if err := act.Ops(ctx, func(op bson.Raw) error { return a.rewriteOne(ctx, op) }); err != nil {
			return err
		}
	}
	return a.noteApplied(act.TS)
}

// rewriteOne gives a command among the operations of a written entry to
// the commands, dry: only the deferred index builds change.
func (a *Applier) rewriteOne(ctx context.Context, op bson.Raw) error {
	if kind, _ := op.Lookup("op").StringValueOK(); kind != "c" {
		return nil
	}
	ts, err := oplog.EntryTS(op)
	if err != nil {
		return err
	}
	ns, err := oplog.EntryNS(op)
	if err != nil {
		return fmt.Errorf("entry %s: %w", ts, err)
	}
	o, ok := op.Lookup("o").DocumentOK()
	if !ok {
		return fmt.Errorf("command at %s: o is not a document", ts)
	}
	db, _ := SplitNS(ns)
	a.cmds.dry = true
	defer func() { a.cmds.dry = false }()
	_, err = a.cmds.apply(ctx, ts, db, o)
	var ue *UnsupportedError
	if errors.As(err, &ue) {
		return nil // the stopped replay passed it (--skip-unsupported reported it)
	}
	return err
}

// startedBefore tells a transaction entry whose transaction's start the
// buffer never saw.
func startedBefore(err error) bool {
	var te *txn.TxnError
	return errors.As(err, &te) && errors.Is(err, txn.ErrUnknownTransaction)
}

// txnError turns what the transaction buffer cannot place into errors a
// user can act on; a commit of a transaction that began before the replay's
// first entry cannot be applied, and says so.
func (a *Applier) txnError(err error) error {
	var te *txn.TxnError
	if errors.As(err, &te) {
		hint := "the replayed range starts inside this transaction: replay from an earlier position " +
			"(resuming a stopped replay, use the resume point it reported), or pass --skip-unsupported to leave the transaction out and list it in the report"
		if errors.Is(err, txn.ErrBrokenChain) {
			hint = "the oplog is damaged or incomplete here: verify the source; --skip-unsupported leaves the transaction out and lists it in the report"
		}
		what := strings.TrimPrefix(te.Error(), "oplog entry "+te.TS.String()+": ")
		return &UnsupportedError{TS: te.TS, NS: "admin.$cmd", What: what, Hint: hint}
	}
	var ee *txn.EntryError
	if errors.As(err, &ee) && errors.Is(err, txn.ErrUnsupported) {
		return &UnsupportedError{TS: ee.TS, NS: "admin.$cmd", What: ee.Error()}
	}
	return err
}
