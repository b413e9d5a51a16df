package replay

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"

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
	act, err := a.txns.Add(ctx, entry)
	if err != nil {
		return a.unsupported(a.txnError(err), entry)
	}
	switch act.Kind {
	case txn.Apply:
		return act.Ops(ctx, func(op bson.Raw) error { return a.applyOne(ctx, op) })
	case txn.Commit:
		a.stats.TxnsCommitted++
		if err := act.Ops(ctx, func(op bson.Raw) error { return a.applyOne(ctx, op) }); err != nil {
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
	act, err := a.txns.Add(ctx, entry)
	if err != nil {
		return a.txnError(err)
	}
	if act.Kind != txn.Apply && act.Kind != txn.Commit {
		return nil
	}
	return act.Ops(ctx, func(op bson.Raw) error {
		ns, err := a.checkOne(op)
		if ns != "" && writes != nil {
			writes(ns)
		}
		return err
	})
}

// txnError turns what the transaction buffer cannot place into errors a
// user can act on; a commit of a transaction that began before the replay's
// first entry cannot be applied, and says so.
func (a *Applier) txnError(err error) error {
	var te *txn.TxnError
	if errors.As(err, &te) {
		return &UnsupportedError{TS: te.TS, NS: "admin.$cmd", What: "transaction " + te.ID.String() + ": " + te.Error(), Before: false}
	}
	var ee *txn.EntryError
	if errors.As(err, &ee) && errors.Is(err, txn.ErrUnsupported) {
		return &UnsupportedError{TS: ee.TS, NS: "admin.$cmd", What: ee.Error()}
	}
	return err
}
