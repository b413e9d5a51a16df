package replay

import "context"

// Settle writes the pending batch and builds the indexes deferred so far,
// so that every entry taken, except those of transactions still open, is
// applied to the target and Stats().Applied says so. Unlike Finish it
// neither decides prepared transactions by a lookahead nor ends the
// replay: more entries may follow.
//
// A replay that never ends (replayer follow) calls it at every position
// it commits. The index rule (build after the data) then holds per call:
// the entries taken so far end at a position the source had, so a unique
// index built there holds as it did on the source.
func (a *Applier) Settle(ctx context.Context) error {
	if err := a.Flush(ctx); err != nil {
		return err
	}
	n, err := a.cmds.buildIndexes(ctx)
	a.stats.IndexesBuilt += uint64(n)
	if err != nil {
		return err
	}
	a.settled(a.last)
	return nil
}

// OpenTxns counts the transactions whose entries were taken but whose
// commit or abort was not (yet).
func (a *Applier) OpenTxns() int { return len(a.txns.Pending()) }

// Close releases the transaction buffer's spill files without applying
// anything more. A replay ended by Finish needs no Close; one abandoned
// (an error, a stop) does.
func (a *Applier) Close() error { return a.txns.Close() }
