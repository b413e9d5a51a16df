package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/replay"
	"github.com/tidelog/tidelog/segment"
	"github.com/tidelog/tidelog/store/dirstore"
)

// distTxn is one shard's side of the fixture's distributed transaction, as
// its oplog holds it.
type distTxn struct {
	key      string          // lsid.id + txnNumber
	prepare  oplog.Timestamp // ts of its prepare applyOps
	commitTS oplog.Timestamp // o.commitTimestamp of its commitTransaction
	commit   oplog.Timestamp // ts of the commitTransaction entry itself
	docs     []string        // ns + " " + _id of every operation (all deletes here)
}

// pbmShard is one shard's whole oplog: the backup oplog and its PITR chunks.
type pbmShard struct {
	name    string
	entries []bson.Raw
	txn     distTxn
}

// What the real capture shows (Percona Server 4.4.12, shards rs1 and rs2,
// one transaction deleting two trx.test documents on each):
//
//	rs1: prepare 1644410656.4, commitTransaction entry 1644410656.8
//	rs2: prepare 1644410656.6, commitTransaction entry 1644410656.9
//	both: commitTimestamp 1644410656.6, the newer prepare (the coordinator
//	      takes the maximum of the participants' prepare timestamps)
//
// So the commit entry's ts is after commitTimestamp on every shard, and by
// a different amount: positions between the two exist in the real data, no
// shifting needed. Cutting each shard at T by entry ts would restore, at
// T = .8, the transaction on rs1 and not on rs2 (half of it), and at .6 or
// .7 on neither though the cluster had committed it. With the lookahead
// every shard applies it iff commitTimestamp <= T.
//
// For each T each shard gets its own FerretDB target: its dump loaded, its
// oplog replayed through T by the real engine (replay.Replay) with the
// entries after T as the lookahead, and the result compared with an
// independent model of the same rule. Then the shards must agree: the
// transaction's documents gone on both, or there on both.
func TestClusterRestoreDistributedTxnAgrees(t *testing.T) {
	dir := pbmFixture(t)
	meta := pbmReadMeta(t, dir)
	shards := []*pbmShard{pbmReadShard(t, dir, "rs1", meta), pbmReadShard(t, dir, "rs2", meta)}
	checkRealTxnFacts(t, shards)
	c := shards[0].txn.commitTS
	cases := []struct {
		name    string
		to      oplog.Timestamp
		applied bool
	}{
		{"T just before commitTimestamp (rs1 prepared, rs2 not yet)", c.Prev(), false},
		{"T at commitTimestamp (rs2's prepare), both commit entries after T", c, true},
		{"T between commitTimestamp and both commit entries", oplog.Timestamp{T: c.T, I: c.I + 1}, true},
		{"T at rs1's commit entry, before rs2's", shards[0].txn.commit, true},
		{"T at rs2's commit entry: both in range", shards[1].txn.commit, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := map[string]bool{}
			for _, sh := range shards {
				stats := restoreShardTo(t, dir, sh, tc.to, true)
				got[sh.name] = stats.applied
				if stats.applied != tc.applied {
					t.Errorf("%s at %s: transaction applied %v, want %v (commitTimestamp %s)", sh.name, tc.to, stats.applied, tc.applied, c)
				}
			}
			if got["rs1"] != got["rs2"] {
				t.Errorf("at %s the shards disagree: %v: half a distributed transaction restored", tc.to, got)
			}
		})
	}

	// The old cut (no lookahead) at rs1's commit entry: the inconsistency the
	// lookahead removes, shown on the real data, so that the cases above
	// test something.
	t.Run("without lookahead the shards disagree", func(t *testing.T) {
		to := shards[0].txn.commit
		rs1 := restoreShardTo(t, dir, shards[0], to, false)
		rs2 := restoreShardTo(t, dir, shards[1], to, false)
		if !rs1.applied || rs2.applied {
			t.Errorf("cut at %s by entry ts: rs1 applied %v, rs2 applied %v; the fixture should split them", to, rs1.applied, rs2.applied)
		}
	})
}

// When a shard's data ends before its commit entry (here: rs2's capture
// stops at T = rs1's commit entry), the transaction's outcome on rs2 is
// unknown: rs2 leaves it out and names it in Stats.Unresolved, while rs1
// applies it. The report is what tells the operator the restore is split.
func TestClusterRestoreUnresolvedIsReported(t *testing.T) {
	dir := pbmFixture(t)
	meta := pbmReadMeta(t, dir)
	rs2 := pbmReadShard(t, dir, "rs2", meta)
	to := rs2.txn.commit.Prev()
	truncated := &pbmShard{name: rs2.name, txn: rs2.txn, entries: entriesThrough(t, rs2.entries, to)}
	res := restoreShardTo(t, dir, truncated, to, true)
	if res.applied || len(res.stats.Unresolved) != 1 {
		t.Fatalf("rs2 cut at %s with no data after: applied %v, unresolved %+v; want not applied and 1 unresolved", to, res.applied, res.stats.Unresolved)
	}
	if u := res.stats.Unresolved[0]; u.LastTS != rs2.txn.prepare {
		t.Errorf("unresolved transaction prepared at %s, want %s", u.LastTS, rs2.txn.prepare)
	}
	if !res.stats.Applied.Before(rs2.txn.prepare) {
		t.Errorf("resume point %s: want it before the unresolved prepare %s", res.stats.Applied, rs2.txn.prepare)
	}
}

// The same decision through the replayer binary: `apply --to T` reads on in
// its --oplog-file for the commit of a transaction prepared by T. rs2's
// oplog applied to rs2's dump at T = rs1's commit entry (after C, before
// rs2's commit entry) deletes the transaction's documents, as rs1's restore
// to the same T does; the file cut at T instead leaves them and says so.
func TestClusterApplyCommandLooksAhead(t *testing.T) {
	dir := pbmFixture(t)
	meta := pbmReadMeta(t, dir)
	rs1 := pbmReadShard(t, dir, "rs1", meta)
	rs2 := pbmReadShard(t, dir, "rs2", meta)
	to := rs1.txn.commit
	cases := []struct {
		name    string
		entries []bson.Raw
		applied bool
		says    string
	}{
		{"the whole oplog", rs2.entries, true, "last applied " + to.String()},
		{"the oplog cut at T", entriesThrough(t, rs2.entries, to), false, "1 prepared transactions open at --to were not applied"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			srv := testserver.StartT(t, testserver.Options{NoOplog: true})
			c, err := srv.Client()
			must(t, err)
			defer c.Disconnect(ctx)
			pbmLoadDump(ctx, t, c, filepath.Join(dir, pbmBackup+"_rs2.dump.s2"), newPBMModel())
			file := filepath.Join(t.TempDir(), "rs2.bson")
			must(t, os.WriteFile(file, bytes.Join(rawBytes(tc.entries), nil), 0o644))

			code, out, errOut := replayer(t, "apply", "--oplog-file", file, "--target", srv.URI, "--to", to.String())
			if code != 0 {
				t.Fatalf("replayer apply: exit %d\n%s%s", code, out, errOut)
			}
			if !strings.Contains(out, tc.says) {
				t.Errorf("the summary does not say %q:\n%s", tc.says, out)
			}
			if got := txnApplied(t, c, rs2); got != tc.applied {
				t.Errorf("rs2 applied the transaction: %v, want %v\n%s%s", got, tc.applied, out, errOut)
			}
		})
	}
}

// And through `replayer restore` from a store: rs2's oplog stored as two
// linked segments split at T = rs2's prepare (= commitTimestamp; a
// restorable position must be an entry's when the capture ends there), so
// the plan ends with the first and the commit entry is in the second, which
// only the lookahead reads.
// The restore starts from the start of capture (no dump), so the
// transaction's two deletes find nothing to delete; the summary's delete
// count tells whether they were applied. With the second segment missing
// the transaction is reported unresolved.
func TestClusterRestoreCommandLooksAhead(t *testing.T) {
	dir := pbmFixture(t)
	rs2 := pbmReadShard(t, dir, "rs2", pbmReadMeta(t, dir))
	to := rs2.txn.prepare
	before, after := entriesThrough(t, rs2.entries, to), rs2.entries[len(entriesThrough(t, rs2.entries, to)):]
	cases := []struct {
		name     string
		segments [][]bson.Raw
		says     string
	}{
		{"commit in the next segment", [][]bson.Raw{before, after}, "deletes 2,"},
		{"capture ends at T", [][]bson.Raw{before}, "1 prepared transactions open at --to were not applied"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			store := filepath.Join(t.TempDir(), "store")
			writeSegments(t, store, "rs2", tc.segments)
			srv := testserver.StartT(t, testserver.Options{NoOplog: true})
			code, out, errOut := replayer(t, "restore", "--store", store, "--target", srv.URI, "--to", to.String())
			if code != 0 {
				t.Fatalf("replayer restore: exit %d\n%s%s", code, out, errOut)
			}
			if !strings.Contains(out, tc.says) {
				t.Errorf("the summary does not say %q:\n%s%s", tc.says, out, errOut)
			}
		})
	}
}

// writeSegments stores each group of entries as one segment of stream,
// each linked to the one before: one unbroken window from the start of
// capture.
func writeSegments(t *testing.T, dir, stream string, groups [][]bson.Raw) {
	t.Helper()
	st, err := dirstore.Open(dir, true)
	must(t, err)
	w := segment.NewWriter(stream)
	var prev segment.Link
	for _, group := range groups {
		w.Start(prev)
		for _, e := range group {
			must(t, w.Append(e))
		}
		info, data, err := w.Finish()
		must(t, err)
		must(t, st.PutSegment(context.Background(), stream, info.Name, data))
		prev = info.Link()
	}
}

func entriesThrough(t *testing.T, entries []bson.Raw, to oplog.Timestamp) []bson.Raw {
	t.Helper()
	var out []bson.Raw
	for _, e := range entries {
		ts, err := oplog.EntryTS(e)
		must(t, err)
		if !ts.After(to) {
			out = append(out, e)
		}
	}
	return out
}

func rawBytes(entries []bson.Raw) [][]byte {
	out := make([][]byte, len(entries))
	for i, e := range entries {
		out[i] = e
	}
	return out
}

// shardResult is a shard restored to T.
type shardResult struct {
	applied bool // the transaction's documents are gone (its deletes applied)
	stats   replay.Stats
}

// restoreShardTo restores one shard to to on a fresh target (its dump, then
// its oplog through to, with the rest as the lookahead when lookahead is
// set), compares every user namespace with the model, and tells whether the
// distributed transaction was applied, failing on half of it.
func restoreShardTo(t *testing.T, dir string, sh *pbmShard, to oplog.Timestamp, lookahead bool) shardResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	srv := testserver.StartT(t, testserver.Options{NoOplog: true})
	c, err := srv.Client()
	must(t, err)
	defer c.Disconnect(context.Background())

	want := newPBMModel()
	pbmLoadDump(ctx, t, c, filepath.Join(dir, pbmBackup+"_"+sh.name+".dump.s2"), want)
	opts := replay.Options{SpillDir: t.TempDir()}
	if lookahead {
		opts.Lookahead = replay.Lookahead{To: to, Source: sliceAfter(sh.entries, to)}
		must(t, modelCut(t, want, sh.entries, to))
	} else {
		must(t, sliceThrough(sh.entries, to)(func(e bson.Raw) error { return want.apply(t, e) }))
	}
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	stats, _, err := replay.Replay(ctx, sliceThrough(sh.entries, to), c, opts, replay.Keep, log)
	if err != nil {
		t.Fatalf("%s to %s: %v", sh.name, to, err)
	}
	if stats.Applied.After(to) {
		t.Errorf("%s: resume point %s is after the cut %s", sh.name, stats.Applied, to)
	}
	t.Logf("%s to %s (lookahead %v): committed %d (late %d), committed after %d, open %d, entries read after T %d, resume point %s",
		sh.name, to, lookahead, stats.TxnsCommitted, stats.TxnsLateCommits, stats.TxnsCommittedAfter, stats.OpenTxns, stats.LookaheadEntries, stats.Applied)
	pbmCompare(ctx, t, c, want)
	return shardResult{applied: txnApplied(t, c, sh), stats: stats}
}

// txnApplied tells whether every document the transaction deletes is gone
// (true) or every one is there (false); a mix fails the test.
func txnApplied(t *testing.T, c *mongo.Client, sh *pbmShard) bool {
	t.Helper()
	gone := 0
	for _, d := range sh.txn.docs {
		ns, id, _ := bytes.Cut([]byte(d), []byte(" "))
		if _, ok := targetState(t, c, string(ns))[string(id)]; !ok {
			gone++
		}
	}
	if gone != 0 && gone != len(sh.txn.docs) {
		t.Errorf("%s: %d of the transaction's %d documents deleted: half applied", sh.name, gone, len(sh.txn.docs))
	}
	return gone == len(sh.txn.docs)
}

// modelCut applies to the model what a restore to to must hold, computed
// apart from the engine: every entry through to, then, from the entries
// after to, the commit of each transaction prepared by then whose
// commitTimestamp is at or before to (and the abort of any).
func modelCut(t *testing.T, m *pbmModel, entries []bson.Raw, to oplog.Timestamp) error {
	for _, e := range entries {
		ts, err := oplog.EntryTS(e)
		if err != nil {
			return err
		}
		if !ts.After(to) {
			if err := m.apply(t, e); err != nil {
				return err
			}
			continue
		}
		if err := modelDecide(t, m, e, to); err != nil {
			return err
		}
	}
	return nil
}

// modelDecide applies a commit after the cut of a transaction the model
// holds prepared, when its commitTimestamp is at or before to, and drops
// the transaction when its abort comes; it ignores everything else.
func modelDecide(t *testing.T, m *pbmModel, e bson.Raw, to oplog.Timestamp) error {
	o, ok := e.Lookup("o").DocumentOK()
	if !ok {
		return nil
	}
	key, err := pbmTxnKey(e)
	if err != nil {
		return nil // not a transaction entry
	}
	if _, prepared := m.prepared[key]; !prepared {
		return nil
	}
	if _, err := o.LookupErr("abortTransaction"); err == nil {
		return m.command(t, "admin", o, e)
	}
	ct, ci, ok := o.Lookup("commitTimestamp").TimestampOK()
	if !ok || (oplog.Timestamp{T: ct, I: ci}).After(to) {
		return nil
	}
	return m.command(t, "admin", o, e)
}

// pbmReadShard reads a shard's whole oplog into memory and finds its side
// of the distributed transaction.
func pbmReadShard(t *testing.T, dir, rs string, meta pbmMeta) *pbmShard {
	t.Helper()
	src, _ := pbmSource(pbmOplogFiles(t, dir, rs, meta))
	sh := &pbmShard{name: rs}
	must(t, src(func(e bson.Raw) error {
		sh.entries = append(sh.entries, append(bson.Raw(nil), e...))
		return nil
	}))
	txn, err := findDistTxn(sh.entries)
	if err != nil {
		t.Fatalf("%s: %v", rs, err)
	}
	sh.txn = txn
	return sh
}

// findDistTxn finds the one prepared transaction of a shard's oplog: its
// prepare, its commit and the documents it writes.
func findDistTxn(entries []bson.Raw) (distTxn, error) {
	var d distTxn
	for _, e := range entries {
		o, ok := e.Lookup("o").DocumentOK()
		if !ok {
			continue
		}
		ts, err := oplog.EntryTS(e)
		if err != nil {
			return d, err
		}
		if prep, _ := o.Lookup("prepare").BooleanOK(); prep {
			if d.key != "" {
				return d, fmt.Errorf("a second prepared transaction at %s", ts)
			}
			if d.key, err = pbmTxnKey(e); err != nil {
				return d, err
			}
			d.prepare = ts
			if d.docs, err = txnDocs(o); err != nil {
				return d, fmt.Errorf("prepare at %s: %w", ts, err)
			}
		}
		if ct, ci, ok := o.Lookup("commitTimestamp").TimestampOK(); ok {
			d.commitTS, d.commit = oplog.Timestamp{T: ct, I: ci}, ts
		}
	}
	if d.key == "" || d.commit.IsZero() || len(d.docs) == 0 {
		return d, fmt.Errorf("no prepared and committed transaction with operations found: %+v", d)
	}
	return d, nil
}

// txnDocs lists "ns _id" of each operation of a prepare applyOps.
func txnDocs(o bson.Raw) ([]string, error) {
	arr, ok := o.Lookup("applyOps").ArrayOK()
	if !ok {
		return nil, fmt.Errorf("applyOps is not an array")
	}
	ops, err := arr.Values()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, op := range ops {
		doc, ok := op.DocumentOK()
		if !ok {
			return nil, fmt.Errorf("applyOps holds a %s", op.Type)
		}
		ns, _ := doc.Lookup("ns").StringValueOK()
		out = append(out, ns+" "+doc.Lookup("o", "_id").String())
	}
	return out, nil
}

// checkRealTxnFacts fails unless the fixture is what the test relies on:
// one transaction on both shards, one commitTimestamp, the newest prepare,
// and commit entries after it at different positions.
func checkRealTxnFacts(t *testing.T, shards []*pbmShard) {
	t.Helper()
	a, b := shards[0].txn, shards[1].txn
	for _, sh := range shards {
		x := sh.txn
		t.Logf("%s: prepare %s, commitTimestamp %s, commitTransaction entry %s, operations %v", sh.name, x.prepare, x.commitTS, x.commit, x.docs)
		if !x.commit.After(x.commitTS) {
			t.Errorf("%s: commit entry %s is not after commitTimestamp %s", sh.name, x.commit, x.commitTS)
		}
	}
	newest := a.prepare
	if b.prepare.After(newest) {
		newest = b.prepare
	}
	if a.key != b.key {
		t.Fatalf("the shards' prepared transactions differ: %s and %s", a.key, b.key)
	}
	if a.commitTS != b.commitTS {
		t.Fatalf("the shards' commitTimestamps differ: %s and %s", a.commitTS, b.commitTS)
	}
	if a.commitTS != newest {
		t.Errorf("commitTimestamp %s is not the newest prepare %s", a.commitTS, newest)
	}
	if !a.commit.Before(b.commit) {
		t.Fatalf("rs1's commit entry %s is not before rs2's %s: the cases assume it", a.commit, b.commit)
	}
}

// sliceThrough yields the entries with ts <= to; sliceAfter those after.
func sliceThrough(entries []bson.Raw, to oplog.Timestamp) replay.Source {
	return sliceWhere(entries, func(ts oplog.Timestamp) bool { return !ts.After(to) })
}

func sliceAfter(entries []bson.Raw, to oplog.Timestamp) replay.Source {
	return sliceWhere(entries, func(ts oplog.Timestamp) bool { return ts.After(to) })
}

func sliceWhere(entries []bson.Raw, keep func(oplog.Timestamp) bool) replay.Source {
	return func(fn func(bson.Raw) error) error {
		for _, e := range entries {
			ts, err := oplog.EntryTS(e)
			if err != nil {
				return err
			}
			if !keep(ts) {
				continue
			}
			if err := fn(e); err != nil {
				return err
			}
		}
		return nil
	}
}
