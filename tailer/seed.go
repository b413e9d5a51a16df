package tailer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/segment"
)

// seedRecheck starts recheck's range, after a restart, with the newest
// stored entries, as if this process had passed them: a hole behind the
// position at the stop is still looked for. The process before looked
// behind at most recentCap entries (a full range holds capture back), all
// passed on within about one recheck window before it stopped: they are
// the newest recentCap stored entries at most, in the head segment and in
// the few cut shortly before it (seedSegments). The head alone is not
// enough: a cut just before the stop leaves most of them in the segment
// before it. Best effort: what cannot be read is not looked behind, and a
// warning says so.
func (t *Tailer) seedRecheck(ctx context.Context, rd *reader, head segment.Info, hs storedHead) {
	if rd.settle <= 0 {
		return
	}
	if hs.timesErr != nil || len(hs.times) == 0 || hs.times[len(hs.times)-1] != head.OpEnd {
		t.log.Warn().Err(hs.timesErr).Str("segment", head.Name).
			Msg("could not read the head segment to look again behind the position after the restart; " +
				"an entry the source shows late just behind it would not be caught (check the store, then `replayer verify`)")
		return
	}
	var times []oplog.Timestamp
	before, err := t.seedSegments(head, rd.capacity()-len(hs.times))
	for _, info := range before {
		var ts []oplog.Timestamp
		if ts, err = t.storedTimes(ctx, info.Name); err != nil {
			break
		}
		times = append(times, ts...)
	}
	if err != nil {
		times = nil
		t.log.Warn().Err(err).Stringer("from", hs.times[0]).
			Msg("could not read the segments before the head to look again behind the position after the restart; " +
				"an entry the source shows late before the head segment would not be caught (check the store, then `replayer verify`)")
	}
	times = append(times, hs.times...)
	if n := len(times) - rd.capacity(); n > 0 {
		times = times[n:]
	}
	now := rd.now()
	rd.recent = make([]passed, len(times))
	for i, ts := range times {
		rd.recent[i] = passed{ts: ts, at: now}
	}
}

// seedSegments returns, oldest first, the segments linked before head that
// may hold entries the process before was still looking behind: back
// along the chain until want entries, or past as many segments smaller
// than CutBytes as it could have cut in a recheck window (by age, one per
// CutAge at most; two more for the cut at its stop and a restart just
// before). Segments cut by size count only by their entries. The bound
// spares a quiet stream, whose small segments lie far apart, a read of
// hours of them at every start.
func (t *Tailer) seedSegments(head segment.Info, want int) ([]segment.Info, error) {
	if want <= 0 {
		return nil, nil
	}
	all, err := t.ckpt.Segments(t.stream)
	if err != nil {
		return nil, fmt.Errorf("list the checkpoint's segments of %s: %w", t.stream, err)
	}
	i := len(all) - 1
	for i >= 0 && all[i].Name != head.Name {
		i--
	}
	if i < 0 {
		return nil, nil
	}
	small := int((t.cfg.Recheck+2*recheckEvery)/max(t.cfg.CutAge, time.Millisecond)) + 2
	link, first := head.Prev, i
	for j := i - 1; j >= 0 && want > 0 && small > 0 && !link.IsZero() && all[j].Link() == link; j-- {
		first, link = j, all[j].Prev
		want -= int(min(all[j].Count, uint64(want)))
		if all[j].RawSize < uint64(t.cfg.CutBytes) {
			small--
		}
	}
	return all[first:i], nil
}

// storedTimes reads the positions of a stored segment's entries.
func (t *Tailer) storedTimes(ctx context.Context, name string) ([]oplog.Timestamp, error) {
	rc, err := t.store.OpenSegment(ctx, t.stream, name)
	if err != nil {
		return nil, fmt.Errorf("open %s/%s in %s: %w", t.stream, name, t.store, err)
	}
	defer rc.Close()
	return t.segmentTimes(rc, name)
}

// segmentTimes reads the positions of the entries of the segment in r.
func (t *Tailer) segmentTimes(r io.Reader, name string) ([]oplog.Timestamp, error) {
	sr, err := segment.NewReaderWith(r, name, t.cfg.readOptions())
	if err != nil {
		return nil, fmt.Errorf("segment %s/%s: %w", t.stream, name, err)
	}
	var times []oplog.Timestamp
	for {
		e, err := sr.Next()
		if errors.Is(err, io.EOF) {
			return times, nil
		}
		if err != nil {
			return nil, fmt.Errorf("segment %s/%s: %w", t.stream, name, err)
		}
		ts, err := oplog.EntryTS(e)
		if err != nil {
			return nil, fmt.Errorf("segment %s/%s: %w", t.stream, name, err)
		}
		times = append(times, ts)
	}
}
