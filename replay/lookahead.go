package replay

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/replay/txn"
)

// Lookahead lets a replay cut at To decide prepared transactions (the
// participants' side of a cross-shard, two-phase commit) the way the
// cluster did: by their commitTimestamp, not by where the commitTransaction
// entry landed in this replica set's oplog.
//
// Why: the coordinator picks one commitTimestamp C for every participant
// (the newest of their prepare timestamps, so at or after every prepare),
// and each participant then writes its own commitTransaction entry, at a ts
// after C that differs from shard to shard. A cluster restored to T, each shard cut at T by entry ts,
// would apply the transaction on the shards whose commit entry is at or
// before T and drop it on the others: half a transaction. Deciding on C
// gives every shard the same answer, the one a read at cluster time T sees.
//
// The main Source yields the entries through To, as always. When it ends
// with prepared transactions still open, the replay reads Source (entries
// after To, in ts order) for their commitTransaction or abortTransaction
// only, and stops as soon as every one is decided or Source ends. Nothing
// else after To is applied, buffered or checked. A transaction is applied
// iff its commitTimestamp <= To; one whose outcome Source does not hold is
// not applied and is reported (Stats.Unresolved, a warning): see Finish.
type Lookahead struct {
	// To is where the main source was cut: it yields entries ts <= To.
	To oplog.Timestamp
	// Source yields the entries after To, in order; entries at or before To
	// are ignored. Nil: no lookahead (a prepared transaction is applied iff
	// its commit entry is in the main source).
	Source Source
}

// errDecided stops the lookahead source once no prepared transaction waits.
var errDecided = errors.New("every prepared transaction open at the cut is decided")

// enabled tells whether the replay is a cut with a lookahead.
func (l Lookahead) enabled() bool { return l.Source != nil }

// resolve reads the lookahead source while prepared transactions are open,
// passing each of their commit or abort entries to decide. It is a no-op
// without a lookahead or with nothing to decide.
func (a *Applier) resolve(ctx context.Context, decide func(ctx context.Context, entry bson.Raw) error) error {
	la := a.opts.Lookahead
	if !la.enabled() || a.openPrepared() == 0 {
		return nil
	}
	err := la.Source(func(entry bson.Raw) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		ts, err := oplog.EntryTS(entry)
		if err != nil {
			return fmt.Errorf("lookahead after %s: %w", la.To, err)
		}
		if !ts.After(la.To) {
			return nil
		}
		a.stats.LookaheadEntries++
		ends, err := a.txns.Resolves(entry)
		if err != nil {
			return fmt.Errorf("lookahead after %s: %w", la.To, err)
		}
		if !ends {
			return nil
		}
		if err := decide(ctx, entry); err != nil {
			return err
		}
		if a.openPrepared() == 0 {
			return errDecided
		}
		return nil
	})
	if errors.Is(err, errDecided) {
		return nil
	}
	return err
}

// openPrepared counts the prepared transactions still open. It runs once
// per decided transaction, not per entry.
func (a *Applier) openPrepared() int {
	n := 0
	for _, p := range a.txns.Pending() {
		if p.Prepared {
			n++
		}
	}
	return n
}

// applyDecided settles one prepared transaction open at the cut from its
// commit or abort entry after it: applied iff committed at or before To.
func (a *Applier) applyDecided(ctx context.Context, entry bson.Raw) error {
	act, err := a.txns.Add(ctx, entry)
	if err != nil {
		return a.unsupported(a.txnError(err), entry)
	}
	switch {
	case act.Kind == txn.Abort:
		a.stats.TxnsAborted++
	case act.Kind == txn.Commit && !act.CommitTimestamp.After(a.opts.Lookahead.To):
		a.stats.TxnsCommitted++
		a.stats.TxnsLateCommits++
		if err := a.applyAction(ctx, &act); err != nil {
			return fmt.Errorf("transaction %s committed at %s (commit entry %s, after the cut %s): %w",
				act.Txn, act.CommitTimestamp, act.TS, a.opts.Lookahead.To, err)
		}
	case act.Kind == txn.Commit:
		a.stats.TxnsCommittedAfter++
		a.log.Info().Str("txn", act.Txn.String()).Stringer("prepared", act.StartTS).
			Stringer("commitTimestamp", act.CommitTimestamp).Stringer("to", a.opts.Lookahead.To).
			Msg("prepared transaction committed after --to: not applied, on any shard")
	}
	return nil
}

// checkDecided is applyDecided for the checking pass: the operations of a
// transaction committed at or before To are checked like any others.
func (a *Applier) checkDecided(ctx context.Context, entry bson.Raw, writes func(ns string)) error {
	act, err := a.txns.Add(ctx, entry)
	if err != nil {
		return a.txnError(err)
	}
	if act.Kind != txn.Commit || act.CommitTimestamp.After(a.opts.Lookahead.To) {
		return nil
	}
	return a.checkOps(ctx, &act, writes)
}

// reportOpen logs the transactions still open at the end and counts them.
// With a lookahead, a prepared one among them is unresolved: its prepare is
// at or before To, its commit or abort is not in the data after To.
func (a *Applier) reportOpen() {
	la := a.opts.Lookahead
	for _, p := range a.txns.Pending() {
		a.stats.OpenTxns++
		if p.Prepared && la.enabled() {
			a.stats.Unresolved = append(a.stats.Unresolved, p)
			a.log.Warn().Str("txn", p.ID.String()).Stringer("prepared", p.LastTS).Int("ops", p.Ops).Stringer("to", la.To).
				Msg("prepared transaction NOT applied: its commit or abort is not in the data after --to, so whether it committed at or before --to is unknown. " +
					"If it did, the other shards that hold its commit apply it and this one does not: the restored cluster lacks part of it. " +
					"Capture this replica set's oplog further (its commit follows within the two-phase commit) and restore again, or restore to before the prepare")
			continue
		}
		a.log.Warn().Str("txn", p.ID.String()).Stringer("started", p.FirstTS).Int("ops", p.Ops).Bool("prepared", p.Prepared).
			Msg("transaction not committed by the end of the replay: not applied (it commits after --to, or never did)")
	}
}
