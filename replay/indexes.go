package replay

import (
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/oplog"
)

// pendingIndexes holds index builds seen in the oplog but not yet built.
//
// The rule: every index the oplog creates (createIndexes, commitIndexBuild)
// is built after the data, at the end of the replay. Replaying over a base
// copy, or replaying any range twice, passes through states the source never
// had at once (a document's new version beside another's old one), and a
// unique index built mid-replay can reject them with duplicate-key errors;
// built at the end it sees the final, consistent data. Later commands that
// touch a pending index act on the pending spec instead of the target:
// dropIndexes removes it, collMod changes it, a collection drop or database
// drop discards its pending indexes, a rename moves them.
type pendingIndexes struct {
	// specs by "db.coll" then index name, in the order first seen.
	byNS  map[string][]bson.D
	order []string
	// since is the ts of the first index command seen since the last build
	// (zero: none). Until the build, entries from there on are not fully
	// applied: a replay resumed after them would never build these indexes.
	since oplog.Timestamp
}

// noteSince records ts as an index command's position if it is the first
// since the last build.
func (p *pendingIndexes) noteSince(ts oplog.Timestamp) {
	if p.since.IsZero() {
		p.since = ts
	}
}

func newPendingIndexes() *pendingIndexes { return &pendingIndexes{byNS: map[string][]bson.D{}} }

func specName(spec bson.D) string {
	for _, e := range spec {
		if e.Key == "name" {
			if s, ok := e.Value.(string); ok {
				return s
			}
		}
	}
	return ""
}

// add records spec for ns, replacing a pending spec of the same name.
func (p *pendingIndexes) add(ns string, spec bson.D) {
	if _, ok := p.byNS[ns]; !ok {
		p.order = append(p.order, ns)
	}
	name := specName(spec)
	list := p.byNS[ns]
	for i, s := range list {
		if specName(s) == name {
			list[i] = spec
			return
		}
	}
	p.byNS[ns] = append(list, spec)
}

// drop removes a pending index by name ("*": all of ns); it reports
// whether any was pending.
func (p *pendingIndexes) drop(ns, name string) bool {
	list := p.byNS[ns]
	kept := list[:0:0]
	for _, s := range list {
		if name != "*" && specName(s) != name {
			kept = append(kept, s)
		}
	}
	p.byNS[ns] = kept
	return len(kept) != len(list)
}

// modify applies collMod's index options to a pending spec; false if none pending.
func (p *pendingIndexes) modify(ns, name string, set bson.D) bool {
	for i, s := range p.byNS[ns] {
		if specName(s) != name {
			continue
		}
		for _, e := range set {
			replaced := false
			for j := range s {
				if s[j].Key == e.Key {
					s[j].Value, replaced = e.Value, true
				}
			}
			if !replaced {
				s = append(s, e)
			}
		}
		p.byNS[ns][i] = s
		return true
	}
	return false
}

// dropCollection forgets ns's pending indexes.
func (p *pendingIndexes) dropCollection(ns string) { delete(p.byNS, ns) }

// dropDatabase forgets the pending indexes of every collection of db.
func (p *pendingIndexes) dropDatabase(db string) {
	for ns := range p.byNS {
		if d, _ := SplitNS(ns); d == db {
			delete(p.byNS, ns)
		}
	}
}

// rename moves from's pending indexes to to.
func (p *pendingIndexes) rename(from, to string) {
	if list, ok := p.byNS[from]; ok {
		delete(p.byNS, from)
		for _, s := range list {
			p.add(to, s)
		}
	}
}

// each yields the pending builds in first-seen namespace order (a
// namespace dropped and created again keeps its first place).
func (p *pendingIndexes) each(fn func(ns string, specs []bson.D) error) error {
	seen := map[string]bool{}
	for _, ns := range p.order {
		if seen[ns] || len(p.byNS[ns]) == 0 {
			continue
		}
		seen[ns] = true
		if err := fn(ns, p.byNS[ns]); err != nil {
			return err
		}
	}
	return nil
}
