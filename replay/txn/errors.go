package txn

import (
	"errors"
	"fmt"

	"github.com/tidelog/tidelog/oplog"
)

// Sentinels, for errors.Is. Every error Add returns matches exactly one of
// them (or is the context's error); the typed errors below carry the details.
var (
	// ErrMalformed: the entry does not have the shape of an oplog entry
	// (no ts, applyOps that is not an array of operations, a commit without
	// commitTimestamp, ...). Returned as an *EntryError.
	ErrMalformed = errors.New("malformed oplog entry")

	// ErrUnsupported: the entry is well formed but means something this
	// package does not know how to replay faithfully (an unknown multiOpType,
	// a prepared applyOps outside a session). Returned as an *EntryError.
	ErrUnsupported = errors.New("unsupported oplog entry")

	// ErrUnknownTransaction: a commit, an abort or a continuation of a
	// transaction whose first entry this Buffer never saw. Typically the oplog
	// range being replayed begins inside the transaction. Returned as a
	// *TxnError naming the transaction.
	ErrUnknownTransaction = errors.New("transaction start not seen")

	// ErrBrokenChain: the entry belongs to an open transaction but does not
	// follow from it: its prevOpTime skips an entry, its count disagrees with
	// the operations seen, it commits a transaction that was never prepared,
	// it restarts a transaction that is already open. Returned as a *TxnError.
	ErrBrokenChain = errors.New("inconsistent transaction chain")

	// ErrSpill: reading or writing a spill file failed. It is sticky: the
	// Buffer has lost track of what it holds and every later Add returns it.
	ErrSpill = errors.New("transaction spill file")

	// ErrClosed: the Buffer was closed.
	ErrClosed = errors.New("transaction buffer closed")

	// ErrExpired: Action.Ops was called after the next Add (or Close), when
	// the operations it referred to had already been released.
	ErrExpired = errors.New("transaction action used after the next Add")
)

// EntryError reports an entry that cannot be interpreted. It leaves the
// Buffer unchanged: the caller may report it and go on with the next entry,
// but nothing of this entry was applied or buffered.
type EntryError struct {
	TS     oplog.Timestamp // zero if the entry has no readable ts
	Kind   error           // ErrMalformed or ErrUnsupported
	Detail string          // what is wrong, e.g. "applyOps[3] has no op"
	Err    error           // the underlying decoding error, if any
}

func (e *EntryError) Error() string {
	at := "oplog entry " + e.TS.String()
	if e.TS.IsZero() {
		at = "oplog entry (no ts)"
	}
	msg := fmt.Sprintf("%s: %v: %s", at, e.Kind, e.Detail)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap exposes both the sentinel and the underlying cause.
func (e *EntryError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// TxnError reports a transaction entry that does not fit what the Buffer
// knows of that transaction. It leaves the Buffer unchanged, so the caller
// decides: a restore that starts mid-transaction will typically report the
// transaction loudly as not restorable and go on.
type TxnError struct {
	ID ID
	// TS is the ts of the offending entry; Entry says what it was
	// ("commitTransaction", "abortTransaction", "applyOps", "partial applyOps",
	// "prepare applyOps").
	TS    oplog.Timestamp
	Entry string
	// PrevOpTime is the ts the entry's prevOpTime points to (zero if none).
	PrevOpTime oplog.Timestamp
	// StartTS is the first entry of the open transaction with this ID, zero
	// when none is open.
	StartTS oplog.Timestamp
	Kind    error // ErrUnknownTransaction or ErrBrokenChain
	Detail  string
}

func (e *TxnError) Error() string {
	msg := fmt.Sprintf("oplog entry %s: %s of %s: %v", e.TS, e.Entry, e.ID, e.Kind)
	if !e.PrevOpTime.IsZero() {
		msg += fmt.Sprintf(" (prevOpTime %s)", e.PrevOpTime)
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// Unwrap returns the sentinel.
func (e *TxnError) Unwrap() error { return e.Kind }

func malformed(ts oplog.Timestamp, err error, format string, args ...any) *EntryError {
	return &EntryError{TS: ts, Kind: ErrMalformed, Detail: fmt.Sprintf(format, args...), Err: err}
}

func unsupported(ts oplog.Timestamp, format string, args ...any) *EntryError {
	return &EntryError{TS: ts, Kind: ErrUnsupported, Detail: fmt.Sprintf(format, args...)}
}
