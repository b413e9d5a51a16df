package txn

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/oplog"
)

// TestInterleavedSessions: three sessions' transactions interleaved with
// ordinary writes, as on a busy primary: A prepared then committed last, B a
// large unprepared chain, C prepared then aborted. Each commit yields its own
// operations only, at its own commit ts; ordinary writes pass straight through.
func TestInterleavedSessions(t *testing.T) {
	entries := []bson.Raw{
		applyOps(t, 1, txnEntry{session: 'A', txn: 5, prepare: true}, insertOp("db.a", 1, 0), insertOp("db.a", 2, 0)),
		plain(t, 2, "db.p", 100),
		applyOps(t, 3, txnEntry{session: 'B', txn: 9, partial: true}, insertOp("db.b", 1, 0)),
		applyOps(t, 4, txnEntry{session: 'C', txn: 1, prepare: true}, insertOp("db.c", 1, 0)),
		applyOps(t, 5, txnEntry{session: 'B', txn: 9, partial: true, prev: 3}, insertOp("db.b", 2, 0)),
		plain(t, 6, "db.p", 101),
		applyOps(t, 7, txnEntry{session: 'B', txn: 9, prev: 5, count: 3}, insertOp("db.b", 3, 0)),
		abortTxn(t, 8, 'C', 1, 4),
		commitTxn(t, 9, 'A', 5, 1, 8),
		plain(t, 10, "db.p", 102),
	}
	b := New(Options{SpillDir: t.TempDir()})
	defer b.Close()
	ctx := context.Background()
	type want struct {
		kind    Kind
		ops     string
		open    int
		oldest  uint32
		session byte
	}
	wants := []want{
		{Absorb, "", 1, 1, 'A'},
		{Apply, "i:100", 1, 1, 0},
		{Absorb, "", 2, 1, 'B'},
		{Absorb, "", 3, 1, 'C'},
		{Absorb, "", 3, 1, 'B'},
		{Apply, "i:101", 3, 1, 0},
		{Commit, "i:1 i:2 i:3", 2, 1, 'B'},
		{Abort, "", 1, 1, 'C'},
		{Commit, "i:1 i:2", 0, 0, 'A'},
		{Apply, "i:102", 0, 0, 0},
	}
	for i, e := range entries {
		act, err := b.Add(ctx, e)
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		ops := drain(t, &act)
		w := wants[i]
		if act.Kind != w.kind || summary(ops) != w.ops {
			t.Errorf("entry %d: %s %q, want %s %q", i, act.Kind, summary(ops), w.kind, w.ops)
		}
		if _, data, _ := act.Txn.LSID.Lookup("id").BinaryOK(); w.session != 0 && (len(data) == 0 || data[0] != w.session) {
			t.Errorf("entry %d: %s of %s, want session %c", i, act.Kind, act.Txn, w.session)
		}
		for _, op := range ops {
			if w.kind == Commit && !strings.HasPrefix(op.Lookup("ns").StringValue(), "db."+strings.ToLower(string(w.session))) {
				t.Errorf("entry %d: commit of %c yielded %s", i, w.session, op)
			}
		}
		if got := len(b.Pending()); got != w.open {
			t.Errorf("entry %d: %d open, want %d", i, got, w.open)
		}
		oldest, ok := b.OldestOpen()
		if ok != (w.oldest != 0) || (ok && oldest != at(w.oldest)) {
			t.Errorf("entry %d: OldestOpen %s %v, want %d", i, oldest, ok, w.oldest)
		}
	}
	if s := b.Stats(); s.Committed != 2 || s.Aborted != 1 || s.Open != 0 || s.MemBytes != 0 {
		t.Errorf("stats %+v", s)
	}
}

// bigTxn is two sessions' large transactions interleaved, 40 entries of 25
// operations of ~200 bytes each, A unprepared, B prepared then committed.
func bigTxn(t testing.TB) (entries []bson.Raw, wantA, wantB string) {
	var i uint32 = 1
	var lastA, lastB uint32
	var idsA, idsB []string
	var id int32
	for e := 0; e < 40; e++ {
		for _, s := range []byte{'A', 'B'} {
			var ops []bson.D
			for k := 0; k < 25; k++ {
				id++
				ops = append(ops, insertOp("db."+string(s), id, 200))
				if s == 'A' {
					idsA = append(idsA, "i:"+itoa(int64(id)))
				} else {
					idsB = append(idsB, "i:"+itoa(int64(id)))
				}
			}
			x := txnEntry{session: s, txn: 1, partial: true}
			if s == 'A' {
				x.prev, lastA = lastA, i
				if e == 39 {
					x.partial, x.count = false, 1000
				}
			} else {
				x.prev, lastB = lastB, i
				if e == 39 {
					x.partial, x.prepare = false, true
				}
			}
			entries = append(entries, applyOps(t, i, x, ops...))
			i++
		}
	}
	entries = append(entries, commitTxn(t, i, 'B', 1, lastB, i-1))
	return entries, strings.Join(idsA, " "), strings.Join(idsB, " ")
}

// TestSpill: with a 4 KiB bound, two interleaved transactions of ~230 kB
// each go to spill files; the operations come back whole and in order, the
// memory bound holds after every entry (feed checks it), and the files are
// removed once the commit is released.
func TestSpill(t *testing.T) {
	entries, wantA, wantB := bigTxn(t)
	dir := t.TempDir()
	b := New(Options{MaxMemory: 4096, SpillDir: dir})
	defer b.Close()

	// The last three entries are A's final applyOps, B's prepare, B's commit.
	n := len(entries)
	steps := feed(t, b, entries[:n-3])
	p := b.Pending()
	if len(p) != 2 || !p[0].Spilled || !p[1].Spilled {
		t.Fatalf("pending %+v, want both spilled", p)
	}
	if n := len(spillFiles(t, dir)); n != 2 {
		t.Fatalf("%d spill files, want 2", n)
	}
	commitA := feed(t, b, entries[n-3:n-2])[0]
	if commitA.act.Kind != Commit || summary(commitA.ops) != wantA || commitA.act.StartTS != at(1) {
		t.Fatalf("A: %s with %d ops", commitA.act.Kind, len(commitA.ops))
	}
	prepB := feed(t, b, entries[n-2:n-1])[0]
	if n := len(spillFiles(t, dir)); n != 1 {
		t.Fatalf("%d spill files after A's commit was released, want 1", n)
	}
	last := feed(t, b, entries[n-1:])[0]
	if last.act.Kind != Commit || summary(last.ops) != wantB || last.act.CommitTimestamp != at(uint32(n-1)) || last.act.StartTS != at(2) {
		t.Fatalf("B: %+v with %d ops", last.act, len(last.ops))
	}
	steps = append(steps, commitA, prepB, last)
	s := b.Stats()
	if s.Spilled != 2 || s.SpilledBytes < 400_000 || s.MemBytes > 4096 {
		t.Errorf("stats %+v", s)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if files := spillFiles(t, dir); len(files) != 0 {
		t.Errorf("left behind: %v", files)
	}

	// The same oplog in memory gives the same operations, byte for byte.
	mem := New(Options{SpillDir: dir})
	defer mem.Close()
	inMem := allOps(feed(t, mem, entries))
	spilled := allOps(steps)
	if !reflect.DeepEqual(inMem, spilled) {
		t.Error("spilled and in-memory replays differ")
	}
	if mem.Stats().Spilled != 0 {
		t.Error("64 MiB bound spilled")
	}
}

// TestSpillEvictsLargest: when the bound is reached it is the largest
// in-memory transaction that moves to disk, not the one that happens to be
// growing.
func TestSpillEvictsLargest(t *testing.T) {
	b := New(Options{MaxMemory: 3000, SpillDir: t.TempDir()})
	defer b.Close()
	feed(t, b, []bson.Raw{
		applyOps(t, 1, txnEntry{session: 'A', txn: 1, partial: true}, insertOp("db.a", 1, 2000)),
		applyOps(t, 2, txnEntry{session: 'B', txn: 1, partial: true}, insertOp("db.b", 1, 100)),
		applyOps(t, 3, txnEntry{session: 'B', txn: 1, partial: true, prev: 2}, insertOp("db.b", 2, 900)),
	})
	p := b.Pending()
	if len(p) != 2 || !p[0].Spilled || p[1].Spilled {
		t.Fatalf("pending %+v: want A (the largest) spilled, B in memory", p)
	}
}

func TestErrors(t *testing.T) {
	good := func(i uint32) bson.Raw {
		return applyOps(t, i, txnEntry{session: 'A', txn: 7, prepare: true}, insertOp("db.a", 1, 0))
	}
	partial := applyOps(t, 1, txnEntry{session: 'A', txn: 7, partial: true}, insertOp("db.a", 1, 0))
	badOps := func(ops ...any) bson.Raw {
		return mustRaw(t, append(bson.D{
			{Key: "lsid", Value: lsidDoc('A')}, {Key: "txnNumber", Value: int64(7)},
			{Key: "op", Value: "c"}, {Key: "ns", Value: "admin.$cmd"},
			{Key: "o", Value: bson.D{{Key: "applyOps", Value: bson.A(ops)}}},
		}, envelope(2)...))
	}
	nested := insertOp("db.a", 1, 0)
	for d := 0; d < maxNesting; d++ {
		nested = bson.D{{Key: "op", Value: "c"}, {Key: "ns", Value: "admin.$cmd"}, {Key: "o", Value: bson.D{{Key: "applyOps", Value: bson.A{nested}}}}}
	}
	cases := []struct {
		name   string
		before []bson.Raw // fed first, must succeed
		entry  bson.Raw
		kind   error
		ts     uint32
		says   []string // the message must contain these
	}{
		{name: "commit of unknown transaction", entry: commitTxn(t, 9, 'A', 7, 4, 8),
			kind: ErrUnknownTransaction, ts: 9, says: []string{"commitTransaction", "41414141-4141-4141-4141-414141414141", "txnNumber 7", "1700000000.9", "prevOpTime 1700000000.4"}},
		{name: "abort of unknown transaction", entry: abortTxn(t, 9, 'A', 7, 4),
			kind: ErrUnknownTransaction, ts: 9, says: []string{"abortTransaction", "txnNumber 7"}},
		{name: "chain continued without its start", entry: applyOps(t, 5, txnEntry{session: 'A', txn: 7, partial: true, prev: 4}, insertOp("db.a", 1, 0)),
			kind: ErrUnknownTransaction, ts: 5, says: []string{"partial applyOps", "txnNumber 7"}},
		{name: "chain end without its start", entry: applyOps(t, 5, txnEntry{session: 'A', txn: 7, prev: 4, count: 4}, insertOp("db.a", 1, 0)),
			kind: ErrUnknownTransaction, ts: 5},
		{name: "commit of another txnNumber", before: []bson.Raw{good(1)}, entry: commitTxn(t, 9, 'A', 8, 1, 8),
			kind: ErrUnknownTransaction, ts: 9, says: []string{"txnNumber 8"}},
		{name: "gap in chain", before: []bson.Raw{partial}, entry: applyOps(t, 3, txnEntry{session: 'A', txn: 7, partial: true, prev: 2}, insertOp("db.a", 2, 0)),
			kind: ErrBrokenChain, ts: 3, says: []string{"entry is missing"}},
		{name: "count mismatch", before: []bson.Raw{partial}, entry: applyOps(t, 2, txnEntry{session: 'A', txn: 7, prev: 1, count: 3}, insertOp("db.a", 2, 0)),
			kind: ErrBrokenChain, ts: 2, says: []string{"count says 3"}},
		{name: "commit of unprepared", before: []bson.Raw{partial}, entry: commitTxn(t, 2, 'A', 7, 1, 2),
			kind: ErrBrokenChain, ts: 2, says: []string{"never prepared"}},
		{name: "applyOps after prepare", before: []bson.Raw{good(1)}, entry: applyOps(t, 2, txnEntry{session: 'A', txn: 7, partial: true, prev: 1}, insertOp("db.a", 2, 0)),
			kind: ErrBrokenChain, ts: 2},
		{name: "restart while open", before: []bson.Raw{partial}, entry: applyOps(t, 2, txnEntry{session: 'A', txn: 7, partial: true}, insertOp("db.a", 2, 0)),
			kind: ErrBrokenChain, ts: 2, says: []string{"open since 1700000000.1"}},
		{name: "commit prevOpTime elsewhere", before: []bson.Raw{good(1)}, entry: commitTxn(t, 3, 'A', 7, 2, 3),
			kind: ErrBrokenChain, ts: 3},

		{name: "no ts", entry: mustRaw(t, bson.D{{Key: "op", Value: "i"}}), kind: ErrMalformed, says: []string{"(no ts)"}},
		{name: "ts not a timestamp", entry: mustRaw(t, bson.D{{Key: "ts", Value: int64(5)}, {Key: "op", Value: "i"}}), kind: ErrMalformed},
		{name: "no op", entry: mustRaw(t, envelope(2)), kind: ErrMalformed, ts: 2},
		{name: "command without o", entry: mustRaw(t, append(envelope(2), bson.E{Key: "op", Value: "c"})), kind: ErrMalformed, ts: 2},
		{name: "applyOps not an array", entry: mustRaw(t, append(envelope(2), bson.E{Key: "op", Value: "c"}, bson.E{Key: "o", Value: bson.D{{Key: "applyOps", Value: "x"}}})),
			kind: ErrMalformed, ts: 2, says: []string{"not an array"}},
		{name: "operation not a document", entry: badOps(insertOp("db.a", 1, 0), int32(3)), kind: ErrMalformed, ts: 2, says: []string{"applyOps[1]"}},
		{name: "operation without op", entry: badOps(bson.D{{Key: "ns", Value: "db.a"}}), kind: ErrMalformed, ts: 2, says: []string{"applyOps[0] has no string op"}},
		{name: "operation without ns", entry: badOps(bson.D{{Key: "op", Value: "i"}, {Key: "o", Value: bson.D{}}}), kind: ErrMalformed, ts: 2},
		{name: "operation o not a document", entry: badOps(bson.D{{Key: "op", Value: "d"}, {Key: "ns", Value: "db.a"}, {Key: "o", Value: int32(1)}}), kind: ErrMalformed, ts: 2},
		{name: "partialTxn and prepare", entry: applyOps(t, 2, txnEntry{session: 'A', txn: 7, partial: true, prepare: true}), kind: ErrMalformed, ts: 2},
		{name: "count not an integer", entry: applyOps(t, 2, txnEntry{session: 'A', txn: 7, extraO: bson.D{{Key: "count", Value: "x"}}}), kind: ErrMalformed, ts: 2},
		{name: "partialTxn not a bool", entry: applyOps(t, 2, txnEntry{session: 'A', txn: 7, extraO: bson.D{{Key: "partialTxn", Value: int32(1)}}}), kind: ErrMalformed, ts: 2},
		{name: "txnNumber a string", entry: mustRaw(t, append(envelope(2), bson.E{Key: "lsid", Value: lsidDoc('A')}, bson.E{Key: "txnNumber", Value: "7"},
			bson.E{Key: "op", Value: "c"}, bson.E{Key: "o", Value: bson.D{{Key: "abortTransaction", Value: int32(1)}}})), kind: ErrMalformed, ts: 2},
		{name: "prevOpTime without ts", entry: applyOps(t, 2, txnEntry{session: 'A', txn: 7, noPrev: true, extraTop: bson.D{{Key: "prevOpTime", Value: bson.D{}}}}), kind: ErrMalformed, ts: 2},
		{name: "commit without commitTimestamp", entry: endTxn(t, 2, 'A', 7, 1, bson.D{{Key: "commitTransaction", Value: int32(1)}}), kind: ErrMalformed, ts: 2},
		{name: "commit without session", entry: mustRaw(t, append(envelope(2), bson.E{Key: "op", Value: "c"},
			bson.E{Key: "o", Value: bson.D{{Key: "commitTransaction", Value: int32(1)}, {Key: "commitTimestamp", Value: bts(1)}}})), kind: ErrMalformed, ts: 2},
		{name: "nested too deep", entry: applyOps(t, 2, txnEntry{}, nested), kind: ErrMalformed, ts: 2, says: []string{"deeper"}},
		{name: "invalid BSON inside", entry: truncatedInner(t), kind: ErrMalformed, ts: 2},
		{name: "unknown multiOpType", entry: applyOps(t, 2, txnEntry{session: 'A', txn: 7, extraTop: bson.D{{Key: "multiOpType", Value: int32(2)}}}, insertOp("db.a", 1, 0)),
			kind: ErrUnsupported, ts: 2, says: []string{"multiOpType 2"}},
		{name: "prepare without session", entry: applyOps(t, 2, txnEntry{prepare: true}, insertOp("db.a", 1, 0)), kind: ErrUnsupported, ts: 2},
		{name: "session-less chain continued without its start", entry: applyOps(t, 2, txnEntry{partial: true, prev: 1}, insertOp("db.a", 1, 0)),
			kind: ErrUnknownTransaction, ts: 2, says: []string{"session-less"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := New(Options{SpillDir: t.TempDir()})
			defer b.Close()
			feed(t, b, c.before)
			pending, stats := b.Pending(), b.Stats()
			_, err := b.Add(context.Background(), c.entry)
			if !errors.Is(err, c.kind) {
				t.Fatalf("err = %v, want %v", err, c.kind)
			}
			var ee *EntryError
			var te *TxnError
			switch {
			case errors.As(err, &ee):
				if ee.TS != at(c.ts) && !(c.ts == 0 && ee.TS.IsZero()) {
					t.Errorf("EntryError.TS = %s, want %s", ee.TS, at(c.ts))
				}
			case errors.As(err, &te):
				if te.TS != at(c.ts) {
					t.Errorf("TxnError.TS = %s, want %s", te.TS, at(c.ts))
				}
			default:
				t.Fatalf("%T is neither *EntryError nor *TxnError", err)
			}
			for _, s := range c.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("%q does not say %q", err, s)
				}
			}
			// Unchanged, and still usable.
			if !reflect.DeepEqual(b.Pending(), pending) || b.Stats() != stats {
				t.Errorf("the failed Add changed the buffer: %+v -> %+v", pending, b.Pending())
			}
			if _, err := b.Add(context.Background(), plain(t, 100, "db.x", 1)); err != nil {
				t.Errorf("Add after the error: %v", err)
			}
		})
	}
}

// truncatedInner is an applyOps whose inner operation's declared length
// runs past its array.
func truncatedInner(t testing.TB) bson.Raw {
	raw := applyOps(t, 2, txnEntry{}, insertOp("db.a", 1, 0))
	i := strings.Index(string(raw), "\x03"+"0\x00") // inner document element "0"
	if i < 0 {
		t.Fatal("no inner document")
	}
	bad := append(bson.Raw(nil), raw...)
	bad[i+3] += 100 // its length (low byte), past the end of its array
	return bad
}

// TestUnknownCommitIsRecoverable: a restore that begins between prepare and
// commit sees a commit it cannot apply; the error says which transaction and
// the Buffer goes on normally.
func TestUnknownCommitIsRecoverable(t *testing.T) {
	b := New(Options{})
	defer b.Close()
	ctx := context.Background()
	_, err := b.Add(ctx, commitTxn(t, 5, 'A', 3, 2, 4))
	var te *TxnError
	if !errors.As(err, &te) || te.Entry != "commitTransaction" || te.ID.TxnNumber != 3 || te.TS != at(5) || te.PrevOpTime != at(2) {
		t.Fatalf("err = %#v", err)
	}
	steps := feed(t, b, []bson.Raw{plain(t, 6, "db.a", 1)})
	if steps[0].act.Kind != Apply {
		t.Fatal("buffer unusable after the error")
	}
}

func TestActionLifetime(t *testing.T) {
	ctx := context.Background()
	nop := func(bson.Raw) error { return nil }
	b := New(Options{MaxMemory: 1, SpillDir: t.TempDir()})
	feed(t, b, []bson.Raw{applyOps(t, 1, txnEntry{session: 'A', txn: 1, prepare: true}, insertOp("db.a", 1, 0), insertOp("db.a", 2, 0))})
	act, err := b.Add(ctx, commitTxn(t, 2, 'A', 1, 1, 2))
	if err != nil {
		t.Fatal(err)
	}
	// Ops can be replayed (a retry starts over) until the next Add.
	for range 2 {
		var n int
		if err := act.Ops(ctx, func(bson.Raw) error { n++; return nil }); err != nil || n != 2 {
			t.Fatalf("Ops: %d, %v", n, err)
		}
	}
	// yield's error comes back as is; a done ctx stops it.
	stop := errors.New("target down")
	if err := act.Ops(ctx, func(bson.Raw) error { return stop }); err != stop {
		t.Errorf("Ops returned %v, want yield's error", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := act.Ops(cctx, nop); !errors.Is(err, context.Canceled) {
		t.Errorf("Ops with a canceled ctx: %v", err)
	}
	// Calling Add from inside yield is caught.
	if err := act.Ops(ctx, func(bson.Raw) error { _, err := b.Add(ctx, plain(t, 3, "db.a", 3)); return err }); !errors.Is(err, ErrExpired) {
		t.Errorf("Add during Ops: %v", err)
	}
	if err := act.Ops(ctx, nop); !errors.Is(err, ErrExpired) {
		t.Errorf("Ops after the next Add: %v", err)
	}
	if files := spillFiles(t, b.dir); len(files) != 0 {
		t.Errorf("the commit's spill file outlived the next Add: %v", files)
	}
	// Add with a canceled ctx looks at nothing, and still ends the previous Action.
	prev, err := b.Add(ctx, plain(t, 3, "db.a", 3))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Add(cctx, plain(t, 4, "db.a", 4)); !errors.Is(err, context.Canceled) {
		t.Errorf("Add with a canceled ctx: %v", err)
	}
	if err := prev.Ops(ctx, nop); !errors.Is(err, ErrExpired) {
		t.Errorf("Ops after a canceled Add: %v", err)
	}
	next, err := b.Add(ctx, plain(t, 4, "db.a", 4))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := next.Ops(ctx, nop); !errors.Is(err, ErrExpired) {
		t.Errorf("Ops after Close: %v", err)
	}
	if _, err := b.Add(ctx, plain(t, 5, "db.a", 5)); !errors.Is(err, ErrClosed) {
		t.Errorf("Add after Close: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	var zero Action
	if err := zero.Ops(ctx, nop); err != nil {
		t.Errorf("zero Action: %v", err)
	}
}

// TestSpillFailureIsSticky: a spill directory that does not exist fails the
// Add that needs it, and every later one, instead of losing operations.
func TestSpillFailureIsSticky(t *testing.T) {
	b := New(Options{MaxMemory: 1, SpillDir: filepath.Join(t.TempDir(), "missing")})
	defer b.Close()
	ctx := context.Background()
	_, err := b.Add(ctx, applyOps(t, 1, txnEntry{session: 'A', txn: 1, partial: true}, insertOp("db.a", 1, 0)))
	if !errors.Is(err, ErrSpill) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v", err)
	}
	if _, err2 := b.Add(ctx, plain(t, 2, "db.a", 2)); !errors.Is(err2, ErrSpill) {
		t.Fatalf("next Add: %v", err2)
	}
}

// TestSpillCorruption: a damaged spill file is an error at commit, never a
// wrong operation.
func TestSpillCorruption(t *testing.T) {
	dir := t.TempDir()
	b := New(Options{MaxMemory: 1, SpillDir: dir})
	defer b.Close()
	feed(t, b, []bson.Raw{applyOps(t, 1, txnEntry{session: 'A', txn: 1, prepare: true}, insertOp("db.a", 1, 50), insertOp("db.a", 2, 50))})
	act, err := b.Add(context.Background(), commitTxn(t, 2, 'A', 1, 1, 2))
	if err != nil {
		t.Fatal(err)
	}
	// Flush happens at the first read: read once, then damage the second record.
	if err := act.Ops(context.Background(), func(bson.Raw) error { return nil }); err != nil {
		t.Fatal(err)
	}
	files := spillFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("spill files %v", files)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-10] ^= 0xff
	if err := os.WriteFile(files[0], data, 0o600); err != nil {
		t.Fatal(err)
	}
	var n int
	err = act.Ops(context.Background(), func(bson.Raw) error { n++; return nil })
	if !errors.Is(err, ErrSpill) || !strings.Contains(err.Error(), "checksum") || n != 1 {
		t.Fatalf("after %d ops: %v", n, err)
	}
}

// TestSessionlessChain: a 7.0+ large batched write: partialTxn applyOps
// without lsid, linked by prevOpTime, applied whole at the last entry.
func TestSessionlessChain(t *testing.T) {
	b := New(Options{MaxMemory: 1, SpillDir: t.TempDir()})
	defer b.Close()
	steps := feed(t, b, []bson.Raw{
		applyOps(t, 1, txnEntry{partial: true}, insertOp("db.a", 1, 0)),
		plain(t, 2, "db.b", 9),
		applyOps(t, 3, txnEntry{partial: true, prev: 1}, insertOp("db.a", 2, 0)),
		applyOps(t, 4, txnEntry{prev: 3, count: 3}, insertOp("db.a", 3, 0)),
		applyOps(t, 5, txnEntry{}, insertOp("db.a", 4, 0)), // a plain user applyOps
	})
	if got := kinds(steps); got != "absorb apply absorb commit apply" {
		t.Fatalf("actions %q", got)
	}
	c := steps[3]
	if summary(c.ops) != "i:1 i:2 i:3" || c.act.StartTS != at(1) || c.act.Txn.LSID != nil || c.act.Txn.Chain != at(1) {
		t.Errorf("commit %+v: %s", c.act, summary(c.ops))
	}
	if len(b.Pending()) != 0 || len(b.chains) != 0 {
		t.Error("chain left open")
	}
}

// TestNestedApplyOps: applyOps inside a user applyOps is expanded in place.
func TestNestedApplyOps(t *testing.T) {
	inner := bson.D{{Key: "op", Value: "c"}, {Key: "ns", Value: "admin.$cmd"}, {Key: "o", Value: bson.D{{Key: "applyOps", Value: bson.A{
		insertOp("db.a", 2, 0), insertOp("db.a", 3, 0),
	}}}}}
	b := New(Options{})
	defer b.Close()
	steps := feed(t, b, []bson.Raw{applyOps(t, 1, txnEntry{}, insertOp("db.a", 1, 0), inner, insertOp("db.a", 4, 0))})
	if got := summary(steps[0].ops); got != "i:1 i:2 i:3 i:4" {
		t.Errorf("applied %q", got)
	}
}

// TestInnerOpShape: an inner operation comes out as an oplog entry with the
// applying entry's ts, t, v and wall first, then its own fields minus stale
// ones (ts, h), upsert flag b and stmtId kept.
func TestInnerOpShape(t *testing.T) {
	op := bson.D{
		{Key: "ts", Value: bson.Timestamp{T: 1, I: 1}}, {Key: "h", Value: int64(42)},
		{Key: "op", Value: "u"}, {Key: "ns", Value: "db.a"}, {Key: "ui", Value: bson.Binary{Subtype: 4, Data: make([]byte, 16)}},
		{Key: "o", Value: bson.D{{Key: "$set", Value: bson.D{{Key: "x", Value: int32(1)}}}}},
		{Key: "o2", Value: bson.D{{Key: "_id", Value: int32(1)}}}, {Key: "b", Value: true}, {Key: "stmtId", Value: int32(3)},
	}
	b := New(Options{})
	defer b.Close()
	got := feed(t, b, []bson.Raw{applyOps(t, 7, txnEntry{session: 'A', txn: 1}, op)})[0].ops[0]
	elems, _ := got.Elements()
	var keys []string
	for _, e := range elems {
		keys = append(keys, e.Key())
	}
	if strings.Join(keys, ",") != "ts,t,v,wall,op,ns,ui,o,o2,b,stmtId" {
		t.Errorf("fields %v", keys)
	}
	if ts, _ := oplog.EntryTS(got); ts != at(7) {
		t.Errorf("ts %s", ts)
	}
}

func TestIDString(t *testing.T) {
	internal := bson.D{{Key: "id", Value: bson.Binary{Subtype: 4, Data: make([]byte, 16)}}, {Key: "uid", Value: bson.Binary{Subtype: 0, Data: make([]byte, 32)}},
		{Key: "txnNumber", Value: int64(3)}, {Key: "txnUUID", Value: bson.Binary{Subtype: 4, Data: make([]byte, 16)}}}
	cases := []struct {
		id   ID
		want string
	}{
		{ID{LSID: mustRaw(t, lsidDoc('A')), TxnNumber: 7}, "transaction lsid 41414141-4141-4141-4141-414141414141 txnNumber 7"},
		{ID{LSID: mustRaw(t, internal), TxnNumber: 1}, `transaction lsid {"id": {"$binary":`},
		{ID{Chain: at(3)}, "session-less applyOps chain started at 1700000000.3"},
	}
	for _, c := range cases {
		if got := c.id.String(); !strings.HasPrefix(got, c.want) {
			t.Errorf("%q, want prefix %q", got, c.want)
		}
	}
}
