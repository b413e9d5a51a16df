package txn

import (
	"context"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/oplog"
)

// FuzzBuffer feeds generated oplogs to a Buffer with a tiny memory bound (so
// spill files are in play). The input is a program: each step either builds
// a transaction-shaped entry from a small vocabulary (sessions, txnNumbers,
// partialTxn/prepare/count, prevOpTime pointing at the right or a wrong
// entry, commit, abort, vectored, nested or malformed operations), flips a
// byte of one, or passes raw bytes as an entry.
//
// Properties: no panic; every error is an *EntryError or a *TxnError and
// leaves the Buffer unchanged; every yielded operation is valid BSON at its
// action's ts and there are Count of them; memory stays within the bound;
// every absorbed operation is committed, aborted or still pending (none is
// lost); Close removes every spill file.
func FuzzBuffer(f *testing.F) {
	seeds := [][]byte{
		// partial, partial, final with count (session 1, txn 0)
		{2, 1, 0, 0x01 | 0<<3, 2, 2, 1, 0, 0x01 | 2<<3, 2, 2, 1, 0, 0x04 | 2<<3, 5, 1},
		// prepare, plain, commit; prepare, abort
		{2, 1, 1, 0x02, 3, 1, 5, 1, 1, 2, 9, 2, 2, 0, 0x02, 1, 6, 2, 0, 2},
		// vectored, user applyOps, nested, broken op
		{2, 1, 0, 0x80, 2, 2, 0, 0, 0, 3, 3, 1, 2, 0, 0, 0, 1, 4},
		// unknown commit, mutated entry, raw garbage
		{5, 2, 1, 3, 1, 7, 1, 0, 0x01, 2, 40, 0, 6, 0, 'x', 'y', 'z', 0, 0, 0},
	}
	for _, s := range seeds {
		f.Add(s)
	}
	// One directory per fuzz worker: inputs run one at a time in a worker,
	// and each must leave it empty.
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, program []byte) { fuzzRun(t, dir, program) })
}

func fuzzRun(t testing.TB, dir string, program []byte) {
	{
		b := New(Options{MaxMemory: 256, SpillDir: dir})
		g := &gen{data: program, last: map[[2]byte]uint32{}}
		ctx := context.Background()
		var absorbed, settled int
		for n := 0; !g.done() && n < 200; n++ {
			entry := g.entry(t)
			pending, stats := b.Pending(), b.Stats()
			act, err := b.Add(ctx, entry)
			if err != nil {
				var ee *EntryError
				var te *TxnError
				if !errors.As(err, &ee) && !errors.As(err, &te) {
					t.Fatalf("untyped error %T: %v", err, err)
				}
				if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) &&
					!errors.Is(err, ErrUnknownTransaction) && !errors.Is(err, ErrBrokenChain) {
					t.Fatalf("error matches no sentinel: %v", err)
				}
				// The previous commit, if any, is released by any Add:
				// only MemBytes may have dropped.
				after := b.Stats()
				after.MemBytes = stats.MemBytes
				if !reflect.DeepEqual(b.Pending(), pending) || after != stats {
					t.Fatalf("failed Add changed the buffer: %v", err)
				}
				checkMemAccount(t, b, nil)
				continue
			}
			var yielded int
			err = act.Ops(ctx, func(op bson.Raw) error {
				yielded++
				if act.plain != nil {
					// Ordinary entries pass through untouched; decoding
					// them is the applier's job.
					if string(op) != string(entry) {
						t.Fatalf("plain entry altered")
					}
					return nil
				}
				if err := validateDeep(op, 0); err != nil {
					t.Fatalf("%s yielded invalid BSON: %v", act.Kind, err)
				}
				if ts, err := oplog.EntryTS(op); err != nil || ts != act.TS {
					t.Fatalf("%s at %s yielded an op at %v (%v)", act.Kind, act.TS, ts, err)
				}
				return nil
			})
			if err != nil {
				t.Fatalf("Ops: %v", err)
			}
			switch act.Kind {
			case Apply, Commit:
				if yielded != act.Count {
					t.Fatalf("%s: Count %d, yielded %d", act.Kind, act.Count, yielded)
				}
				if act.Kind == Commit {
					settled += act.Count - len(act.tail)
				}
			case Absorb:
				absorbed += act.Count
			case Abort:
				settled += act.Count
			default:
				t.Fatalf("Add returned Kind %d without an error", act.Kind)
			}
			if s := b.Stats(); s.MemBytes > 256 || s.MemBytes < 0 {
				t.Fatalf("memory %d", s.MemBytes)
			}
			checkMemAccount(t, b, act.st)
			open := 0
			for _, p := range b.Pending() {
				open += p.Ops
			}
			if absorbed != settled+open {
				t.Fatalf("absorbed %d operations, committed/aborted %d, pending %d: some were lost", absorbed, settled, open)
			}
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		if files := spillFiles(t, dir); len(files) != 0 {
			t.Fatalf("spill files left: %v", files)
		}
	}
}

// gen turns fuzz bytes into oplog entries, with ts increasing by one per
// entry. last remembers each (session, txnNumber)'s latest applyOps, so that
// prevOpTime can point at the right entry as often as at a wrong one.
type gen struct {
	data []byte
	i    int
	ts   uint32
	last map[[2]byte]uint32
}

func (g *gen) done() bool { return g.i >= len(g.data) }

func (g *gen) byte() byte {
	if g.i >= len(g.data) {
		return 0
	}
	c := g.data[g.i]
	g.i++
	return c
}

func (g *gen) bytes(n int) []byte {
	end := min(g.i+n, len(g.data))
	out := g.data[g.i:end]
	g.i = end
	return out
}

func (g *gen) entry(t testing.TB) bson.Raw {
	g.ts++
	switch kind := g.byte() % 8; kind {
	case 0: // raw bytes, length-prefixed by one byte
		return append(bson.Raw(nil), g.bytes(int(g.byte()))...)
	case 1:
		return plain(t, g.ts, "db.p", int32(g.byte()))
	case 5, 6: // commit / abort
		s, txn := g.byte()%3, g.byte()%2
		prev := g.prev(s, txn, g.byte())
		if kind == 5 {
			return commitTxn(t, g.ts, 'A'+s, int64(txn), prev, g.ts-1)
		}
		return abortTxn(t, g.ts, 'A'+s, int64(txn), prev)
	case 7: // an applyOps with one byte flipped
		raw := g.applyOps(t)
		pos := int(g.byte()) % len(raw)
		raw[pos] ^= g.byte() | 1
		return raw
	default:
		return g.applyOps(t)
	}
}

// applyOps reads: session (0 = none), txnNumber, flags, count, operations.
// flags: 1 partialTxn, 2 prepare, 4 count, bits 3-4 prevOpTime choice,
// 0x40 no prevOpTime, 0x80 multiOpType 1.
func (g *gen) applyOps(t testing.TB) bson.Raw {
	s, txn, flags := g.byte()%3, g.byte()%2, g.byte()
	x := txnEntry{txn: int64(txn), partial: flags&1 != 0, prepare: flags&2 != 0, noPrev: flags&0x40 != 0}
	if s != 0 {
		x.session = 'A' + s
	}
	if flags&4 != 0 {
		x.count = int(g.byte() % 6)
	}
	x.prev = g.prev(s, txn, flags>>3)
	if flags&0x80 != 0 {
		x.extraTop = bson.D{{Key: "multiOpType", Value: int32(1)}}
	}
	var ops []bson.D
	for k := g.byte() % 4; k > 0; k-- {
		ops = append(ops, g.op(2))
	}
	raw := applyOps(t, g.ts, x, ops...)
	g.last[[2]byte{s, txn}] = g.ts
	return raw
}

// prev picks a prevOpTime: empty, the transaction's latest entry, or a
// nearby wrong one.
func (g *gen) prev(s, txn, choice byte) uint32 {
	switch choice % 4 {
	case 0:
		return 0
	case 1, 2:
		return g.last[[2]byte{s, txn}]
	default:
		back := uint32(g.byte()%4) + 1
		if back >= g.ts {
			return 0
		}
		return g.ts - back
	}
}

// op builds an inner operation: an insert of some size, a no-op, a nested
// applyOps (depth permitting) or a malformed one.
func (g *gen) op(depth int) bson.D {
	switch c := g.byte(); c % 8 {
	case 0:
		return bson.D{{Key: "op", Value: "n"}, {Key: "ns", Value: ""}, {Key: "o", Value: bson.D{{Key: "msg", Value: "noop"}}}}
	case 1:
		if depth > 0 {
			return bson.D{{Key: "op", Value: "c"}, {Key: "ns", Value: "admin.$cmd"},
				{Key: "o", Value: bson.D{{Key: "applyOps", Value: bson.A{g.op(depth - 1), g.op(depth - 1)}}}}}
		}
		return insertOp("db.n", int32(c), 0)
	case 2:
		return bson.D{{Key: "op", Value: int32(c)}, {Key: "ns", Value: "db.x"}}
	default:
		pad := make([]byte, 2)
		copy(pad, g.bytes(2))
		return insertOp("db.t", int32(c), int(binary.LittleEndian.Uint16(pad)%300))
	}
}

// checkMemAccount: MemBytes is exactly the in-memory bytes of the open
// transactions plus those of the transaction just committed (held until the
// next Add).
func checkMemAccount(t testing.TB, b *Buffer, committed *txnState) {
	var want int64
	for _, p := range b.Pending() {
		if !p.Spilled {
			want += p.Bytes
		}
	}
	if committed != nil {
		want += int64(len(committed.arena))
	}
	if got := b.Stats().MemBytes; got != want {
		t.Fatalf("MemBytes %d, buffers hold %d", got, want)
	}
}
