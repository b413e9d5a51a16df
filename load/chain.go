package load

import (
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/replay"
)

// Part is one oplog source of a Chain, named for messages ("the dump's
// oplog", a file name).
type Part struct {
	Name   string
	Source replay.Source
}

// ChainCount tells how many entries the last pass of a Chain source skipped
// as already covered by an earlier part.
type ChainCount struct{ Overlap int64 }

// ErrChain is matched (errors.Is) by a *ChainError.
var ErrChain = errors.New("oplog parts do not continue one another")

// ChainError reports a part that does not continue the parts before it:
// it starts after their newest entry (entries between may be missing), or
// everything in it is already covered (given twice, or out of order).
type ChainError struct {
	Part           string
	First, Last    oplog.Timestamp // the part's entries
	Newest         oplog.Timestamp // the newest entry of the parts before it
	PreviousPart   string
	NothingNewLeft bool // every entry was covered; else: it starts after Newest
}

func (e *ChainError) Error() string {
	if e.Newest.IsZero() && !e.NothingNewLeft {
		return fmt.Sprintf("%s starts at %s, but %s holds no entries to overlap: nothing shows that no entry before %s is missing, and the restore would skip them silently; "+
			"if you know the file starts before the dump began, pass --allow-oplog-gap", e.Part, e.First, e.PreviousPart, e.First)
	}
	if e.NothingNewLeft {
		return fmt.Sprintf("%s adds nothing: its entries (%s to %s) are all at or before %s, which %s already reaches; "+
			"is it given twice or out of order? Give the oplog files oldest first", e.Part, e.First, e.Last, e.Newest, e.PreviousPart)
	}
	return fmt.Sprintf("%s starts at %s, after %s, where %s ends: entries between them may be missing, and the restore would skip them silently; "+
		"give a file that overlaps the previous one (an oplog dump taken with ts >= the previous file's last ts), "+
		"or, if you know nothing happened between them, --allow-oplog-gap", e.Part, e.First, e.Newest, e.PreviousPart)
}

// Is makes errors.Is(err, ErrChain) true.
func (e *ChainError) Is(target error) bool { return target == ErrChain }

// Chain joins oplog sources that continue one another (a dump's own oplog,
// then oplog files taken later) into one source. Consecutive oplog dumps
// and PITR chunks overlap at their boundaries, so each part's entries at or
// before the newest position of the parts before it are skipped: every
// position is applied once, in order.
//
// Continuity is proven by that overlap: a part whose first entry comes after
// the newest entry before it, or follows parts that yielded none, fails with
// a *ChainError (the entries between could be missing, and the entries
// alone cannot tell), unless allowGap; so does a part that adds nothing
// new, which is one given twice or out of order. Within a part entries pass
// as they are.
func Chain(allowGap bool, parts ...Part) (replay.Source, *ChainCount) {
	count := &ChainCount{}
	src := func(fn func(bson.Raw) error) error {
		count.Overlap = 0
		var newest oplog.Timestamp
		previous := ""
		for i, part := range parts {
			if i > 0 && previous == "" {
				// The parts before yielded nothing (a dump without an oplog of
				// its own): nothing shows where this one must start.
				previous = parts[0].Name
			}
			var first, last, partNewest oplog.Timestamp
			var seen, skipped int64
			err := part.Source(func(entry bson.Raw) error {
				ts, err := oplog.EntryTS(entry)
				if err != nil {
					return err
				}
				if seen == 0 {
					first = ts
					if previous != "" && ts.After(newest) && !allowGap {
						return &ChainError{Part: part.Name, First: ts, Last: ts, Newest: newest, PreviousPart: previous}
					}
				}
				seen++
				last = ts
				if previous != "" && !ts.After(newest) {
					skipped++
					count.Overlap++
					return nil
				}
				if ts.After(partNewest) {
					partNewest = ts
				}
				return fn(entry)
			})
			if err != nil {
				return err
			}
			if seen > 0 && seen == skipped {
				return &ChainError{Part: part.Name, First: first, Last: last, Newest: newest, PreviousPart: previous, NothingNewLeft: true}
			}
			if seen > 0 {
				previous = part.Name
				if partNewest.After(newest) {
					newest = partNewest
				}
			}
		}
		return nil
	}
	return src, count
}
