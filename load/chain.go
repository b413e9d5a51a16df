package load

import (
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/replay"
)

// ChainCount tells how many entries the last pass of a Chain source skipped
// as already covered by an earlier part.
type ChainCount struct{ Overlap int64 }

// Chain joins oplog sources that continue one another (a dump's own oplog,
// then oplog files taken later) into one source. Consecutive oplog dumps
// and PITR chunks overlap at their boundaries, so each part's entries at or
// before the newest position of the parts before it are skipped: every
// position is applied once, in order. Within a part entries pass as they
// are. Whether a later part starts early enough to leave no gap cannot be
// told from the entries alone; that stays the caller's responsibility.
func Chain(parts ...replay.Source) (replay.Source, *ChainCount) {
	count := &ChainCount{}
	src := func(fn func(bson.Raw) error) error {
		count.Overlap = 0
		var newest, partNewest oplog.Timestamp
		for i, part := range parts {
			if i > 0 && partNewest.After(newest) {
				newest = partNewest
			}
			partNewest = newest
			err := part(func(entry bson.Raw) error {
				ts, err := oplog.EntryTS(entry)
				if err != nil {
					return err
				}
				if i > 0 && !ts.After(newest) {
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
		}
		return nil
	}
	return src, count
}
