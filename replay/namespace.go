package replay

import (
	"fmt"
	"strings"
)

// nsPattern matches "db.coll", "db.*" (every collection of db) or "*" (all).
type nsPattern struct {
	db, coll string // coll "*" matches any collection; db "*" matches any database
}

func parseNSPattern(s string) (nsPattern, error) {
	if s == "*" {
		return nsPattern{db: "*", coll: "*"}, nil
	}
	db, coll, ok := strings.Cut(s, ".")
	if !ok || db == "" || coll == "" || strings.ContainsAny(db, "*/\\ \"$") && db != "*" {
		return nsPattern{}, fmt.Errorf("namespace pattern %q: want db.collection, db.* or *", s)
	}
	if strings.Contains(coll, "*") && coll != "*" {
		return nsPattern{}, fmt.Errorf("namespace pattern %q: * stands only for a whole collection name (db.*)", s)
	}
	return nsPattern{db: db, coll: coll}, nil
}

func (p nsPattern) match(db, coll string) bool {
	return (p.db == "*" || p.db == db) && (p.coll == "*" || p.coll == coll)
}

// bucketsPrefix begins the name of the collection that holds a timeseries
// collection's data: people name "db.weather", the documents live in
// "db.system.buckets.weather", and a selection or rename must move both.
const bucketsPrefix = "system.buckets."

// matchData is match for a namespace that holds data: a timeseries
// collection's buckets also match the patterns naming the collection.
func (p nsPattern) matchData(db, coll string) bool {
	if p.match(db, coll) {
		return true
	}
	ts, ok := strings.CutPrefix(coll, bucketsPrefix)
	return ok && p.coll != "*" && p.match(db, ts)
}

// Namespaces selects and renames what a replay writes. The zero value
// selects everything and renames nothing.
type Namespaces struct {
	include []nsPattern
	exclude []nsPattern
	from    []nsPattern
	to      []nsPattern
}

// NewNamespaces builds a selection from --ns-include/--ns-exclude patterns and
// --ns-from/--ns-to renames (paired in order: "shop.*" to "staging.*" moves a
// database, "shop.orders" to "staging.orders2" one collection).
func NewNamespaces(include, exclude, from, to []string) (Namespaces, error) {
	var n Namespaces
	for _, group := range []struct {
		in  []string
		out *[]nsPattern
	}{{include, &n.include}, {exclude, &n.exclude}, {from, &n.from}, {to, &n.to}} {
		for _, s := range group.in {
			p, err := parseNSPattern(s)
			if err != nil {
				return Namespaces{}, err
			}
			*group.out = append(*group.out, p)
		}
	}
	if len(n.from) != len(n.to) {
		return Namespaces{}, fmt.Errorf("--ns-from and --ns-to come in pairs: got %d and %d", len(n.from), len(n.to))
	}
	for i := range n.from {
		f, t := n.from[i], n.to[i]
		if (f.coll == "*") != (t.coll == "*") || f.db == "*" || t.db == "*" {
			return Namespaces{}, fmt.Errorf("rename %s.%s to %s.%s: rename a database (db.* to db2.*) or a collection (db.c to db2.c2)", f.db, f.coll, t.db, t.coll)
		}
	}
	return n, nil
}

// Selected reports whether the namespace db.coll (as in the source) is replayed.
func (n Namespaces) Selected(db, coll string) bool {
	if len(n.include) > 0 {
		in := false
		for _, p := range n.include {
			if p.matchData(db, coll) {
				in = true
				break
			}
		}
		if !in {
			return false
		}
	}
	for _, p := range n.exclude {
		if p.matchData(db, coll) {
			return false
		}
	}
	return true
}

// SelectedDB reports whether any collection of db can be selected, for
// database-wide commands such as dropDatabase.
func (n Namespaces) SelectedDB(db string) bool {
	if len(n.include) > 0 {
		in := false
		for _, p := range n.include {
			if p.db == "*" || p.db == db {
				in = true
			}
		}
		if !in {
			return false
		}
	}
	for _, p := range n.exclude {
		if p.match(db, "*") && p.coll == "*" {
			return false
		}
	}
	return true
}

// Rename maps a source namespace to the target's; the first matching rename wins.
func (n Namespaces) Rename(db, coll string) (string, string) {
	for i, f := range n.from {
		if !f.matchData(db, coll) {
			continue
		}
		t := n.to[i]
		if t.coll == "*" {
			return t.db, coll
		}
		if !f.match(db, coll) { // the buckets of the timeseries collection f names
			return t.db, bucketsPrefix + t.coll
		}
		return t.db, t.coll
	}
	return db, coll
}

// RenameDB maps a source database to the target's, for database-wide commands.
func (n Namespaces) RenameDB(db string) string {
	for i, f := range n.from {
		if f.db == db && f.coll == "*" {
			return n.to[i].db
		}
	}
	return db
}

// SplitNS splits "db.coll" (the collection may contain dots).
func SplitNS(ns string) (db, coll string) {
	db, coll, _ = strings.Cut(ns, ".")
	return db, coll
}
