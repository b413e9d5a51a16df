// Package replay applies raw oplog entries to a target through the driver,
// batched and idempotent: replaying a range twice, or ranges that overlap,
// leaves the same data as replaying it once.
package replay

import (
	"context"
	"errors"
	"fmt"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/replay/diff"
	"github.com/tidelog/tidelog/replay/txn"
)

// Stats counts what an Applier did.
type Stats struct {
	Entries  uint64
	Inserts  uint64
	Updates  uint64
	Deletes  uint64
	Commands uint64
	NoOps    uint64
	// Skipped counts entries left out on purpose: outside the namespace
	// selection, server-internal namespaces, users/roles unless asked for,
	// migration copies on a cluster target.
	Skipped uint64
	// Unsupported counts entries skipped under --skip-unsupported (each one
	// is in the report file).
	Unsupported  uint64
	IndexesBuilt uint64
	Upserted     uint64 // inserts that found their _id present and replaced it (overlapping replay)
	// UpdateMisses counts updates whose document did not exist on the target.
	// Replaying from the start of capture onto an empty target this means the
	// document predates the capture: the restore cannot be exact, and says so.
	UpdateMisses uint64
	// Transactions committed and aborted, and those still open at the end
	// (they commit after the replay's end: not applied).
	TxnsCommitted, TxnsAborted, OpenTxns uint64
	// With Options.Lookahead: LookaheadEntries counts the entries after the
	// cut read to decide prepared transactions open there (none applied for
	// itself). TxnsLateCommits counts prepared transactions committed at or
	// before the cut (commitTimestamp <= To) whose commit entry lies after it:
	// applied, and counted in TxnsCommitted too. TxnsCommittedAfter counts
	// those committed with a commitTimestamp after the cut: not applied.
	LookaheadEntries, TxnsLateCommits, TxnsCommittedAfter uint64
	// Unresolved lists the prepared transactions whose commit or abort the
	// lookahead did not find (they are among OpenTxns): not applied, though
	// the cluster may have committed them at or before the cut. A cluster
	// restore with any is not known to be consistent; see Lookahead.
	Unresolved []txn.PendingTxn
	// Resumed counts entries at or before Options.After or Options.Written,
	// already written by the replay this one resumes: read, not written
	// again (those of a transaction open at Written still wait for its
	// commit, as in any replay).
	Resumed uint64
	// Applied is the resume point: every entry at or before it is fully
	// applied to the target. It stops short of entries that wait in open
	// transactions or deferred index builds, so a replay that stopped (an
	// error, a cancel) can run again with After = Applied and lose nothing.
	Applied oplog.Timestamp
	// Written is how far the target holds the stream: every entry at or
	// before it was written, except the operations of transactions still
	// open at it (applied at their commit, after it) and index builds still
	// deferred. It is at or after Applied. A replay resumed with After =
	// Applied and Written = Written writes none of the entries between
	// again: a namespace command is not idempotent there (a rename of A to
	// B run again after A was created anew replaces B with the new A).
	Written oplog.Timestamp
}

// Options shape what an Applier writes.
type Options struct {
	// Namespaces selects and renames namespaces; the zero value takes all as they are.
	Namespaces Namespaces
	// IncludeUsers replays admin.system.users and admin.system.roles.
	IncludeUsers bool
	// ClusterTarget skips chunk-migration copies (fromMigrate), for restores
	// of a whole sharded cluster; see Migration.
	ClusterTarget bool
	// OnUnsupported, when set, is told of each entry the replayer cannot apply
	// and the replay goes on if it returns nil (--skip-unsupported writes
	// them to a report). When nil such an entry stops the replay.
	OnUnsupported func(*UnsupportedError) error
	// Indexes are built after the data, with the indexes the oplog creates:
	// those of a base loaded just before, whose copy may break a unique rule
	// until the replay is done. Commands in the oplog act on them as on any
	// pending index (a drop discards them, a rename moves them). Namespaces
	// are target namespaces, after renames.
	Indexes []Index
	// After resumes a replay that stopped: entries at or before it were
	// applied by that replay (its Stats.Applied) and are skipped.
	After oplog.Timestamp
	// Written, with After, is the stopped replay's Stats.Written: the
	// entries after After and at or before Written are not written again.
	// Those of transactions (partial applyOps, prepares) still go into the
	// transaction buffer, so a transaction open at Written is rebuilt and
	// applied whole at its commit after it; a commit or abort at or before
	// Written only ends its transaction (the stopped replay applied it);
	// index commands there only rebuild the deferred index builds (see
	// rewritten). Zero (or before After): every entry after After is
	// written again, which is idempotent for documents but not for every
	// namespace command.
	Written oplog.Timestamp
	// TxnMemory bounds the bytes of open transactions kept in memory before
	// they spill to files in SpillDir (0: 64 MiB; "": the system temp dir).
	TxnMemory int64
	SpillDir  string
	// Lookahead, set when the source is cut at a position, decides prepared
	// transactions open there by their commitTimestamp (a cluster restore
	// needs every shard to agree); see Lookahead.
	Lookahead Lookahead
	// NoJournal leaves out the journal of the documents a write on FerretDB
	// deletes before it re-inserts them (journal.go), for a caller that
	// keeps its own record of them and puts them back before it resumes:
	// follow's checkpoint journal. Two journals would pay twice for one
	// guarantee, and the target's would refuse a follower's resume points.
	NoJournal bool
}

// Index is one index to build after the data.
type Index struct {
	NS   string
	Spec bson.D
}

// maxRunDocs bounds one write command's documents, well under MongoDB's
// 100k statements and 16 MiB per message.
const maxRunDocs = 1000

// Applier applies entries in oplog order. Inserts, updates and deletes
// gather in a batch that is written in parallel partitions (see batch);
// commands are barriers: the batch is written before and nothing runs
// beside them.
type Applier struct {
	txns   *txn.Buffer
	client *mongo.Client
	opts   Options
	log    zerolog.Logger
	stats  Stats
	cmds   *commands
	batch  *batch
	w      *writer
	last   oplog.Timestamp // ts of the newest entry taken, written or pending
	taken  oplog.Timestamp // ts of the newest entry given to Apply or Check
	// applying is the first ts of the entry or transaction whose operations
	// are going into the batch (zero between them), and applyingAt the ts
	// of the entry that applies them (the commit); see applyAction.
	applying, applyingAt oplog.Timestamp
	// journalOpen: the journal a replay cut short may have left was dealt
	// with (see openJournal); it must be before the first write.
	journalOpen bool
}

// openJournal puts back, once and before the first write, what a replay
// cut short in the middle of a write left absent, when this one resumes it;
// see journal.go.
func (a *Applier) openJournal(ctx context.Context) error {
	if a.journalOpen {
		return nil
	}
	if err := a.w.openJournal(ctx, a.opts.After); err != nil {
		return err
	}
	a.journalOpen = true
	return nil
}

// NewApplier returns an Applier writing through client.
func NewApplier(client *mongo.Client, opts Options, log zerolog.Logger) *Applier {
	a := &Applier{client: client, opts: opts, log: log, batch: newBatch(),
		txns: txn.New(txn.Options{MaxMemory: opts.TxnMemory, SpillDir: opts.SpillDir}),
		cmds: &commands{client: client, ns: opts.Namespaces, indexes: newPendingIndexes(), log: log},
		w:    &writer{client: client, log: log, diff: diff.ApplyOplogUpdate}}
	// A resumed replay starts where the stopped one ended: until it writes
	// more, that is its resume point, even when its input begins after it
	// (a follower reads only what comes after): a stop before its first
	// entry must not report zero ("start over"), nor journal a batch under it.
	// It counts as taken too, so that a flush or Settle before that entry
	// (a follower's cycle that found nothing new) keeps it.
	// Written is never before After: everything through After is written.
	if opts.Written.Before(opts.After) {
		a.opts.Written = opts.After
	}
	a.last, a.stats.Applied, a.stats.Written = opts.After, opts.After, a.opts.Written
	a.w.noJournal = opts.NoJournal
	if opts.OnUnsupported != nil {
		a.w.onUnsupported = a.unsupported
	}
	for _, ix := range opts.Indexes {
		a.cmds.indexes.add(ix.NS, cleanSpec(ix.Spec))
	}
	return a
}

// Stats returns the counts so far; Applied covers only written entries.
func (a *Applier) Stats() Stats {
	s := a.stats
	s.Inserts, s.Updates, s.Deletes = a.w.inserts.Load(), a.w.updates.Load(), a.w.deletes.Load()
	s.UpdateMisses, s.Upserted = a.w.misses.Load(), a.w.upserted.Load()
	return s
}

// applyOne applies (or batches) one operation: a plain entry, or one
// operation of a transaction or applyOps, already carrying its commit ts.
func (a *Applier) applyOne(ctx context.Context, entry bson.Raw) error {
	ts, err := oplog.EntryTS(entry)
	if err != nil {
		return err
	}
	op, err := oplog.EntryOp(entry)
	if err != nil {
		return fmt.Errorf("entry %s: %w", ts, err)
	}
	if op == "n" {
		a.stats.NoOps++
		return a.noteApplied(ts)
	}
	ns, err := oplog.EntryNS(entry)
	if err != nil {
		return fmt.Errorf("entry %s: %w", ts, err)
	}
	db, coll := SplitNS(ns)
	switch op {
	case "i", "u", "d":
		fromMigrate, _ := entry.Lookup("fromMigrate").BooleanOK()
		if !a.wanted(op, db, coll, fromMigrate) {
			a.stats.Skipped++
			return a.noteApplied(ts)
		}
		tdb, tcoll := a.opts.Namespaces.Rename(db, coll)
		a.batch.add(op[0], tdb+"."+tcoll, ts, entry)
		a.last = ts
		if a.batch.full() {
			return a.Flush(ctx)
		}
		return nil
	case "c":
		if err := a.Flush(ctx); err != nil {
			return err
		}
		o, ok := entry.Lookup("o").DocumentOK()
		if !ok {
			return fmt.Errorf("command at %s: o is not a document", ts)
		}
		applied, err := a.cmds.apply(ctx, ts, db, o)
		if err != nil {
			if err := a.unsupported(err, entry); err != nil {
				return err
			}
		} else if applied {
			a.stats.Commands++
		} else {
			a.stats.Skipped++
		}
		return a.noteApplied(ts)
	}
	return a.unsupported(&UnsupportedError{TS: ts, NS: ns, What: fmt.Sprintf("op %q", op)}, entry)
}

// knownCommands are the commands commands.apply handles.
var knownCommands = map[string]bool{
	"create": true, "drop": true, "dropDatabase": true, "renameCollection": true,
	"createIndexes": true, "commitIndexBuild": true, "startIndexBuild": true, "abortIndexBuild": true,
	"dropIndexes": true, "deleteIndexes": true, "collMod": true, "convertToCapped": true, "emptycapped": true,
}

// checkOne tells, without writing, which target namespace one operation
// would write ("" for none) and whether the replayer can apply it.
func (a *Applier) checkOne(entry bson.Raw) (string, error) {
	ts, err := oplog.EntryTS(entry)
	if err != nil {
		return "", err
	}
	op, err := oplog.EntryOp(entry)
	if err != nil {
		return "", fmt.Errorf("entry %s: %w", ts, err)
	}
	if op == "n" {
		return "", nil
	}
	ns, err := oplog.EntryNS(entry)
	if err != nil {
		return "", fmt.Errorf("entry %s: %w", ts, err)
	}
	db, coll := SplitNS(ns)
	switch op {
	case "i", "u", "d":
		fromMigrate, _ := entry.Lookup("fromMigrate").BooleanOK()
		if !a.wanted(op, db, coll, fromMigrate) {
			return "", nil
		}
		if db == "" || coll == "" {
			return "", fmt.Errorf("entry %s: ns %q is not db.collection: the entry is damaged", ts, ns)
		}
		if op == "u" {
			if err := a.checkUpdate(ts, ns, entry); err != nil {
				return "", err
			}
		}
		tdb, tcoll := a.opts.Namespaces.Rename(db, coll)
		return tdb + "." + tcoll, nil
	case "c":
		o, ok := entry.Lookup("o").DocumentOK()
		if !ok {
			return "", fmt.Errorf("command at %s: o is not a document", ts)
		}
		elems, err := o.Elements()
		if err != nil || len(elems) == 0 {
			return "", fmt.Errorf("command at %s: o is not a command document", ts)
		}
		name := elems[0].Key()
		if !knownCommands[name] {
			return "", &UnsupportedError{TS: ts, NS: ns, What: "command " + name, Before: true}
		}
		target := ""
		if name == "create" || name == "renameCollection" {
			if name == "renameCollection" {
				to, _ := o.Lookup("to").StringValueOK()
				db, coll = SplitNS(to)
			} else {
				coll, _ = elems[0].Value().StringValueOK()
			}
			if db == "" || coll == "" {
				return "", fmt.Errorf("command at %s: %s names no collection (%q): the entry is damaged", ts, name, db+"."+coll)
			}
			if Classify("c", db, coll, false) == User && a.opts.Namespaces.Selected(db, coll) {
				tdb, tcoll := a.opts.Namespaces.Rename(db, coll)
				target = tdb + "." + tcoll
			}
		}
		return target, nil
	}
	return "", &UnsupportedError{TS: ts, NS: ns, What: fmt.Sprintf("op %q", op), Before: true}
}

// checkUpdate finds update shapes the writer cannot apply.
func (a *Applier) checkUpdate(ts oplog.Timestamp, ns string, entry bson.Raw) error {
	o, ok := entry.Lookup("o").DocumentOK()
	if !ok {
		return fmt.Errorf("update %s at %s: o is not a document", ns, ts)
	}
	if _, err := entry.LookupErr("o2", "_id"); err != nil {
		return fmt.Errorf("update %s at %s: o2 has no _id", ns, ts)
	}
	form, err := updateForm(o)
	switch {
	case err != nil:
		return &UnsupportedError{TS: ts, NS: ns, What: err.Error(), Before: true}
	case form == formDiff && a.w.diff == nil:
		return &UnsupportedError{TS: ts, NS: ns, What: "update format $v:2 (delta updates)", Before: true}
	case form == formModifier:
		elems, _ := o.Elements()
		for _, e := range elems {
			if k := e.Key(); k != "$v" && k != "$set" && k != "$unset" {
				return &UnsupportedError{TS: ts, NS: ns, What: "update operator " + k, Before: true}
			}
		}
	}
	return nil
}

// wanted applies the namespace selection and the user-data rules.
func (a *Applier) wanted(op, db, coll string, fromMigrate bool) bool {
	switch Classify(op, db, coll, fromMigrate) {
	case User:
	case UsersAndRoles:
		if !a.opts.IncludeUsers {
			return false
		}
	case Migration:
		if a.opts.ClusterTarget {
			return false
		}
	default:
		return false
	}
	return a.opts.Namespaces.Selected(db, coll)
}

// unsupported passes an UnsupportedError to OnUnsupported (which may let the
// replay continue) and returns every other error as it is.
func (a *Applier) unsupported(err error, entry bson.Raw) error {
	var ue *UnsupportedError
	if !errors.As(err, &ue) || a.opts.OnUnsupported == nil {
		return err
	}
	ue.Entry = entry
	if herr := a.opts.OnUnsupported(ue); herr != nil {
		return herr
	}
	a.stats.Unsupported++
	return nil
}

// Finish decides the prepared transactions open at the cut from the data
// after it (Options.Lookahead), flushes pending writes, builds the indexes
// deferred until after the data and reports transactions still open (they
// committed after the replay's end, or never, or, prepared ones with a
// lookahead, nobody knows: Stats.Unresolved). Call it once, at the end of
// a replay.
func (a *Applier) Finish(ctx context.Context) error {
	defer a.txns.Close()
	if err := a.resolve(ctx, a.applyDecided); err != nil {
		return err
	}
	if err := a.Flush(ctx); err != nil {
		return err
	}
	n, err := a.cmds.buildIndexes(ctx)
	a.stats.IndexesBuilt += uint64(n)
	if err == nil {
		a.settled(a.last)
	}
	a.reportOpen()
	return err
}

// noteApplied records ts as taken; with nothing pending it is applied.
func (a *Applier) noteApplied(ts oplog.Timestamp) error {
	a.last = ts
	if a.batch.empty() {
		a.settled(ts)
	}
	return nil
}

// Flush writes the pending batch. Afterwards every entry taken so far is
// written, except what waits in open transactions and deferred index builds.
func (a *Applier) Flush(ctx context.Context) error {
	if err := a.openJournal(ctx); err != nil {
		return err
	}
	a.w.after = a.stats.Applied // what a failure of this batch reports
	if err := a.batch.flush(ctx, a.w); err != nil {
		return err
	}
	a.settled(a.last)
	return nil
}

// settled records that every entry taken through written is written,
// except what waits (see resumePoint and writtenPoint): it moves both
// positions. Neither ever moves back.
func (a *Applier) settled(written oplog.Timestamp) {
	a.stats.Applied = a.resumePoint(written)
	if p := a.writtenPoint(written); p.After(a.stats.Written) {
		a.stats.Written = p
	}
}

// writtenPoint is the newest position p <= written such that every entry
// at or before p was written, except the operations of transactions open
// at p and deferred index builds. Unlike the resume point it passes open
// transactions: a replay resumed with Options.Written = p rebuilds them
// from their entries, which it still reads, and writes nothing else at or
// before p again. It stops before the entry whose operations are being
// batched (a commit, an applyOps: written only in part) and, with a
// lookahead, at To, as the resume point does.
func (a *Applier) writtenPoint(written oplog.Timestamp) oplog.Timestamp {
	p := written
	if la := a.opts.Lookahead; la.enabled() && p.After(la.To) {
		p = la.To
	}
	if ts := a.applyingAt; !ts.IsZero() && !ts.After(p) {
		p = ts.Prev()
	}
	return p
}

// resumePoint is the newest position p <= written such that every entry at
// or before p is fully applied: not one of an open transaction (applied at
// its commit, later), nor of the entry or transaction whose operations are
// being batched, nor an index build deferred to the end. A replay that
// stops can be run again with After = p and lose nothing. With a lookahead
// p never passes its To: a transaction the lookahead applies carries its
// commit entry's ts, after To, but belongs to the entries through To.
//
// It starts from the written point (which it never passes): the entry or
// transaction being batched begins at or before the entry that applies it.
func (a *Applier) resumePoint(written oplog.Timestamp) oplog.Timestamp {
	p := a.writtenPoint(written)
	if ts, ok := a.txns.OldestOpen(); ok && !ts.After(p) {
		p = ts.Prev()
	}
	if ts := a.applying; !ts.IsZero() && !ts.After(p) {
		p = ts.Prev()
	}
	if ts := a.cmds.indexes.since; !ts.IsZero() && !ts.After(p) {
		p = ts.Prev()
	}
	return p
}

// UnsupportedError stops a replay at an entry tidelog cannot apply yet. The
// replay never skips it silently.
type UnsupportedError struct {
	TS   oplog.Timestamp
	NS   string
	What string
	// Before: found while checking, before anything was written.
	Before bool
	// Entry is the entry itself, for the --skip-unsupported report.
	Entry bson.Raw
	// Hint, when set, says What cannot be applied and what to do instead of
	// the default (the entry is new to this version): a transaction whose
	// start the replay never saw is not a missing feature.
	Hint string
}

func (e *UnsupportedError) Error() string {
	done := "the replay stopped at it"
	if e.Before {
		done = "nothing was written to the target"
	}
	if e.Hint != "" {
		return fmt.Sprintf("oplog entry %s on %s: %s; %s; %s", e.TS, e.NS, e.What, done, e.Hint)
	}
	return fmt.Sprintf("oplog entry %s on %s: %s is not supported by this version of the replayer; %s; "+
		"restore to a position before %s, or upgrade tidelog", e.TS, e.NS, e.What, done, e.TS)
}
