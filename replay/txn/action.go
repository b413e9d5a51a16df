package txn

import (
	"context"
	"encoding/binary"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/oplog"
)

// Kind says what the caller must do with the entry it gave to Add.
type Kind uint8

const (
	// Apply: apply the operations of Ops now, in order. For an ordinary entry
	// (insert, update, delete, command, no-op, retryable write) Ops yields the
	// entry itself, unchanged. For an applyOps that is not a transaction (a
	// user applyOps command, a batched write, an 8.0 vectored insert) Ops
	// yields its operations, each at the entry's ts.
	Apply Kind = iota + 1
	// Absorb: the entry's operations went into an open transaction. Nothing
	// is to be applied yet; the transaction shows in Pending until it ends.
	Absorb
	// Commit: a transaction committed at this entry. Apply every operation of
	// Ops, in order, as one unit; each carries this entry's ts.
	Commit
	// Abort: a transaction was aborted at this entry; its Count operations
	// were discarded and must not be applied.
	Abort
)

func (k Kind) String() string {
	switch k {
	case Apply:
		return "apply"
	case Absorb:
		return "absorb"
	case Commit:
		return "commit"
	case Abort:
		return "abort"
	}
	return "none"
}

// Action is the Buffer's answer for one entry. It is valid until the next
// call to Add or Close on the same Buffer, which release what it refers to
// (the buffered operations, the spill file, the caller's entry bytes).
type Action struct {
	Kind Kind
	// TS is the ts of the entry given to Add. Every operation yielded by Ops
	// carries it as its ts: a transaction takes effect at its commit entry, so
	// a replay that stops at --to T applies it exactly when TS <= T.
	TS oplog.Timestamp
	// Txn names the transaction (Absorb, Commit, Abort); zero for Apply.
	Txn ID
	// StartTS is the ts of the transaction's first entry (Absorb, Commit,
	// Abort); for Apply it equals TS.
	StartTS oplog.Timestamp
	// CommitTimestamp is, for a prepared transaction's Commit, the
	// commitTimestamp the cluster chose (at or before TS: it is the
	// transaction's read-visible time across shards). For any other Commit
	// and for Apply it equals TS.
	CommitTimestamp oplog.Timestamp
	// Prepared tells a prepared transaction (Absorb of the prepare entry,
	// Commit, Abort).
	Prepared bool
	// Count is the number of operations: that Ops yields (Apply, Commit), that
	// the entry added to the transaction (Absorb), that were discarded (Abort).
	Count int

	b     *Buffer
	gen   uint64
	plain bson.Raw   // Apply of an ordinary entry: the entry
	hdr   []byte     // fields every yielded operation inherits (opdoc.go)
	st    *txnState  // Commit: the buffered operations
	tail  []bson.Raw // operations carried by the entry itself, after st's
}

// Ops calls yield with each operation to apply, in order, for Apply and
// Commit (and does nothing for Absorb and Abort). Each op is a complete
// oplog entry (ts, t, v, wall of the applying entry; op, ns, ui, o, o2 and
// the other fields of the inner operation); the bytes are valid only until
// yield returns, so copy what you keep.
//
// Ops stops at the first error: yield's own error is returned unchanged, a
// done ctx returns ctx.Err(), a damaged spill file returns an error matching
// ErrSpill. After an error the caller must treat the transaction as partly
// applied. Ops may be called again (to retry from the first operation) until
// the next Add; after that it returns ErrExpired.
func (a *Action) Ops(ctx context.Context, yield func(op bson.Raw) error) error {
	if a.Kind != Apply && a.Kind != Commit {
		return nil
	}
	if err := a.live(); err != nil {
		return err
	}
	if a.plain != nil {
		if err := ctx.Err(); err != nil {
			return err
		}
		return yield(a.plain)
	}
	var buf []byte
	emit := func(inner bson.Raw) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		var err error
		if buf, err = appendOp(buf[:0], a.hdr, inner); err != nil {
			// Inner operations were validated when added; spill records are
			// checksummed. This is a bug or memory corruption: say so.
			return malformed(a.TS, err, "buffered operation became unreadable")
		}
		if err := yield(bson.Raw(buf)); err != nil {
			return err
		}
		return a.live() // yield must not call Add; if it did, stop here
	}
	if st := a.st; st != nil {
		if st.spill != nil {
			if err := st.spill.each(ctx, emit); err != nil {
				return err
			}
		} else {
			for rest := st.arena; len(rest) > 0; {
				n := binary.LittleEndian.Uint32(rest)
				if err := emit(bson.Raw(rest[:n])); err != nil {
					return err
				}
				rest = rest[n:]
			}
		}
	}
	for _, op := range a.tail {
		if err := emit(op); err != nil {
			return err
		}
	}
	return nil
}

func (a *Action) live() error {
	if a.b == nil || a.b.closed || a.b.gen != a.gen {
		return ErrExpired
	}
	return nil
}
