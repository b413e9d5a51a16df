package kafkastore

import (
	"hash/crc32"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// staleAttemptAge is how long an incomplete copy must have gone without a
// new frame before freeing a prefix may cut through it as abandoned (a
// producer crashed mid-put). A put in progress adds a frame every few
// milliseconds; without the delay, one process freeing space would cut the
// beginning off another process's put, which could then never complete.
// Puts of this process are never cut, however slow (see Store.track), and
// a put of another process that was cut fails (see Store.checkNotCut).
const staleAttemptAge = 10 * time.Minute

// object is one complete copy of a stored object: where its frames are.
// Installed objects are never changed, so they may be shared outside the
// index's lock.
type object struct {
	attempt string
	offsets []int64 // one per frame, ascending
	size    int64
	crc     uint32
	value   []byte // gaps only: the gap's JSON (one frame)
}

// partial is a copy whose final frame has not been read (yet, or ever: a
// torn write).
type partial struct {
	kind, name string
	obj        object
	frames     int       // the count the frames announce, 0 until one does
	last       time.Time // when its latest frame was produced
	hidden     bool      // a snapshot tombstone came after its start
}

// topicIndex is what one stream's topic holds, built by reading the topic
// in order (see refresh). Its fields are guarded by mu, which is held for a
// whole refresh so that one topic is read by one reader at a time.
type topicIndex struct {
	topic string

	mu        sync.Mutex
	start     int64                         // log start offset at the last refresh
	next      int64                         // next offset to read
	segments  map[string]*object            // by segment name
	gaps      map[string]*object            // by gap name
	snapshots map[string]map[string]*object // by snapshot ID, then file name
	partials  map[string]*partial           // by attempt
}

func newTopicIndex(topic string) *topicIndex {
	ix := &topicIndex{topic: topic}
	ix.reset()
	return ix
}

// reset forgets everything, to read the topic again from its start.
func (ix *topicIndex) reset() {
	ix.start, ix.next = 0, 0
	ix.segments = make(map[string]*object)
	ix.gaps = make(map[string]*object)
	ix.snapshots = make(map[string]map[string]*object)
	ix.partials = make(map[string]*partial)
}

// apply adds the record r, whose headers say f, to the index. Records must
// come in offset order.
func (ix *topicIndex) apply(r *kgo.Record, f frame) {
	if f.kind == kindDelete {
		ix.tombstone(f)
		return
	}
	p := ix.partials[f.attempt]
	if p == nil && f.index == 0 {
		p = &partial{kind: f.kind, name: f.name, obj: object{attempt: f.attempt}}
		ix.partials[f.attempt] = p
	}
	switch {
	case p == nil || p.kind != f.kind || p.name != f.name:
		return // its first frames were deleted: this copy can never complete
	case f.index < len(p.obj.offsets):
		return // a frame read again (a retry without idempotence): same bytes
	case f.index > len(p.obj.offsets), p.frames > 0 && f.frames > 0 && f.frames != p.frames:
		delete(ix.partials, f.attempt) // a frame is missing: it can never complete
		return
	}
	p.obj.offsets = append(p.obj.offsets, r.Offset)
	p.obj.size += int64(len(r.Value))
	p.obj.crc = crc32.Update(p.obj.crc, castagnoli, r.Value)
	p.last = r.Timestamp
	if f.frames > 0 {
		p.frames = f.frames
	}
	if !f.final() {
		return
	}
	delete(ix.partials, f.attempt)
	if p.obj.size != f.size || p.obj.crc != f.crc {
		return // damaged: never listed, like a torn copy
	}
	ix.install(p, r.Value)
}

// install makes the completed copy p the one listed and read under its
// name: the copy completed last wins, so a put replaces an earlier one.
func (ix *topicIndex) install(p *partial, last []byte) {
	obj := &p.obj
	switch p.kind {
	case kindSegment:
		ix.segments[p.name] = obj
	case kindGap:
		if len(obj.offsets) == 1 { // gaps are one frame; anything else is not ours
			obj.value = last
			ix.gaps[p.name] = obj
		}
	case kindSnapshot:
		id, file, ok := strings.Cut(p.name, "/")
		if !ok {
			return
		}
		if ix.snapshots[id] == nil {
			ix.snapshots[id] = make(map[string]*object)
		}
		ix.snapshots[id][file] = obj
	}
}

// tombstone hides what f deletes: the copies completed before it. A copy
// completing after it is a put after the delete, and is listed.
func (ix *topicIndex) tombstone(f frame) {
	switch f.target {
	case kindSegment:
		delete(ix.segments, f.name)
	case kindSnapshot:
		delete(ix.snapshots, f.name)
		for _, p := range ix.partials {
			if p.kind == kindSnapshot && snapshotID(p.name) == f.name {
				p.hidden = true
			}
		}
	}
}

// dropBelow forgets every copy with a frame before start, the new log
// start: its bytes are gone.
func (ix *topicIndex) dropBelow(start int64) {
	gone := func(o *object) bool { return o.offsets[0] < start }
	maps.DeleteFunc(ix.segments, func(_ string, o *object) bool { return gone(o) })
	maps.DeleteFunc(ix.gaps, func(_ string, o *object) bool { return gone(o) })
	for id, files := range ix.snapshots {
		maps.DeleteFunc(files, func(_ string, o *object) bool { return gone(o) })
		if len(files) == 0 {
			delete(ix.snapshots, id)
		}
	}
	maps.DeleteFunc(ix.partials, func(_ string, p *partial) bool { return gone(&p.obj) })
	ix.start = start
}

func snapshotID(name string) string {
	id, _, _ := strings.Cut(name, "/")
	return id
}

func (ix *topicIndex) segmentNames() []string {
	return slices.Sorted(maps.Keys(ix.segments))
}

// snapshotIDs lists the snapshots with a complete file or a copy under way
// (an interrupted snapshot is listed, so that it can be found and deleted).
func (ix *topicIndex) snapshotIDs() []string {
	ids := make(map[string]bool, len(ix.snapshots))
	for id := range ix.snapshots {
		ids[id] = true
	}
	for _, p := range ix.partials {
		if p.kind == kindSnapshot && !p.hidden {
			ids[snapshotID(p.name)] = true
		}
	}
	return slices.Sorted(maps.Keys(ids))
}

// empty reports whether the stream has nothing listed.
func (ix *topicIndex) empty() bool {
	return len(ix.segments) == 0 && len(ix.gaps) == 0 && len(ix.snapshotIDs()) == 0
}
