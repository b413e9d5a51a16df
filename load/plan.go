package load

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/replay"
)

const bucketsPrefix = "system.buckets."

// job is one target namespace the load creates and fills.
type job struct {
	srcNS    string // the source's db.name, for errors and logs
	db, name string // on the target, after renames
	kind     string // TypeCollection, TypeView or TypeTimeseries
	options  bson.D // create options, without idIndex
	indexes  []bson.D
	docs     []func(ctx context.Context, fn func(bson.Raw) error) error
	// dataName is where the documents go: name, or the buckets collection
	// of a timeseries collection.
	dataName string
	capped   bool
	// reuse: the target already holds this namespace, empty; it is filled
	// as it is, with its own options (set by checkTarget).
	reuse bool
}

func (j *job) ns() string     { return j.db + "." + j.name }
func (j *job) dataNS() string { return j.db + "." + j.dataName }

// plan is what a load will do, decided before any I/O on the target.
type plan struct {
	jobs    []*job
	leftOut []string // source namespaces not loaded
}

// newPlan classifies, selects and renames colls. It reads the documents of
// system.views collections (small) to turn definitions without metadata
// into view creates; it writes nothing.
func newPlan(ctx context.Context, colls []Collection, opts Options, log zerolog.Logger) (*plan, error) {
	p := &plan{}
	byNS := map[string]*job{}      // by source namespace
	targets := map[string]string{} // target namespace -> source namespace
	timeseries := map[string]bool{}
	for _, c := range colls {
		if c.Type == TypeTimeseries || (len(c.Options) > 0 && c.Options.Lookup("timeseries").Type != 0) {
			timeseries[c.DB+"."+c.Name] = true
		}
	}
	var buckets, views []Collection
	for _, c := range colls {
		if c.DB == "" || c.Name == "" {
			return nil, fmt.Errorf("load: a collection without a database or name (%q.%q)", c.DB, c.Name)
		}
		parent, isBuckets := strings.CutPrefix(c.Name, bucketsPrefix)
		if isBuckets && timeseries[c.DB+"."+parent] && wanted(c.DB, parent, opts) {
			// Selected, renamed and created with its timeseries collection.
			buckets = append(buckets, c)
			continue
		}
		// Buckets without their timeseries collection (not in colls, or not
		// selected) are judged by their own name and loaded as an ordinary
		// collection, as replay treats them: on a target without timeseries
		// (FerretDB), --ns-include db.system.buckets.name keeps the data as
		// a plain copy (--ns-exclude db.name leaves out both).
		if !wanted(c.DB, c.Name, opts) {
			p.leftOut = append(p.leftOut, c.DB+"."+c.Name)
			continue
		}
		if c.Name == "system.views" {
			views = append(views, c)
			continue
		}
		j, err := newJob(c, opts.Namespaces)
		if err != nil {
			return nil, err
		}
		if err := p.add(j, byNS, targets); err != nil {
			return nil, err
		}
	}
	for _, c := range buckets {
		parent := byNS[c.DB+"."+strings.TrimPrefix(c.Name, bucketsPrefix)]
		if c.Docs != nil {
			parent.docs = append(parent.docs, c.Docs)
		}
	}
	for _, c := range views {
		if err := p.addViewDocs(ctx, c, opts, byNS, targets, log); err != nil {
			return nil, err
		}
	}
	if len(p.leftOut) > 0 {
		log.Info().Strs("namespaces", p.leftOut).Msg("not loaded: server-internal, users and roles (without IncludeUsers), or not selected")
	}
	return p, nil
}

// wanted applies the user-data rules and the selection to a source namespace.
func wanted(db, coll string, opts Options) bool {
	switch replay.Classify("i", db, coll, false) {
	case replay.User:
	case replay.UsersAndRoles:
		if !opts.IncludeUsers {
			return false
		}
	default:
		return false
	}
	return opts.Namespaces.Selected(db, coll)
}

func (p *plan) add(j *job, byNS map[string]*job, targets map[string]string) error {
	if prev, ok := byNS[j.srcNS]; ok {
		return fmt.Errorf("load: %s is given twice (%s)", j.srcNS, prev.ns())
	}
	for _, t := range []string{j.ns(), j.dataNS()} {
		if src, ok := targets[t]; ok && src != j.srcNS {
			return fmt.Errorf("load: %s and %s would both be written to %s (check the renames)", src, j.srcNS, t)
		}
		targets[t] = j.srcNS
	}
	byNS[j.srcNS] = j
	p.jobs = append(p.jobs, j)
	return nil
}

// newJob turns a source collection into a job on the target.
func newJob(c Collection, ns replay.Namespaces) (*job, error) {
	src := c.DB + "." + c.Name
	var opts bson.D
	if len(c.Options) > 0 {
		if err := bson.Unmarshal(c.Options, &opts); err != nil {
			return nil, fmt.Errorf("load %s: options: %w", src, err)
		}
	}
	kept := opts[:0:0]
	for _, e := range opts {
		if e.Key != "idIndex" { // create builds the _id index itself
			kept = append(kept, e)
		}
	}
	kind, err := kindOf(c.Type, kept)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", src, err)
	}
	tdb, tname := ns.Rename(c.DB, c.Name)
	j := &job{srcNS: src, db: tdb, name: tname, kind: kind, options: kept, dataName: tname}
	if kind == TypeTimeseries {
		j.dataName = bucketsPrefix + tname
	}
	if kind != TypeView {
		if c.Docs != nil {
			j.docs = append(j.docs, c.Docs)
		}
		for _, spec := range c.Indexes {
			if !IsIDIndex(spec) {
				j.indexes = append(j.indexes, cleanIndexSpec(spec))
			}
		}
	}
	for _, e := range kept {
		if e.Key == "capped" {
			j.capped, _ = e.Value.(bool)
		}
	}
	return j, nil
}

// kindOf decides a collection's type from its declared type and options.
func kindOf(typ string, opts bson.D) (string, error) {
	for _, e := range opts {
		switch e.Key {
		case "viewOn":
			return TypeView, nil
		case "timeseries":
			return TypeTimeseries, nil
		}
	}
	switch typ {
	case "", TypeCollection:
		return TypeCollection, nil
	case TypeView:
		return "", fmt.Errorf("a view without viewOn in its options")
	case TypeTimeseries:
		return "", fmt.Errorf("a timeseries collection without timeseries options")
	}
	return "", fmt.Errorf("collection type %q is not one load knows (collection, view, timeseries)", typ)
}

// addViewDocs turns the definitions in a system.views collection into view
// creates, except for views the load already creates from their own
// metadata (mongodump writes both in some versions: the metadata wins).
func (p *plan) addViewDocs(ctx context.Context, c Collection, opts Options, byNS map[string]*job, targets map[string]string, log zerolog.Logger) error {
	if c.Docs == nil {
		return nil
	}
	src := c.DB + "." + c.Name
	return c.Docs(ctx, func(doc bson.Raw) error {
		id, ok := doc.Lookup("_id").StringValueOK()
		db, name, cut := strings.Cut(id, ".")
		if !ok || !cut || db != c.DB || name == "" {
			return fmt.Errorf("load %s: a view definition whose _id is not \"%s.<view>\": %s", src, c.DB, doc)
		}
		if byNS[id] != nil {
			log.Debug().Str("view", id).Msg("view definition in system.views skipped: created from its metadata")
			return nil
		}
		if !wanted(db, name, opts) {
			p.leftOut = append(p.leftOut, id+" (view)")
			return nil
		}
		var def bson.D
		if err := bson.Unmarshal(doc, &def); err != nil {
			return fmt.Errorf("load %s: view %s: %w", src, id, err)
		}
		var options bson.D
		for _, e := range def {
			if e.Key != "_id" {
				options = append(options, e)
			}
		}
		raw, err := bson.Marshal(options)
		if err != nil {
			return fmt.Errorf("load %s: view %s: %w", src, id, err)
		}
		j, err := newJob(Collection{DB: db, Name: name, Type: TypeView, Options: raw}, opts.Namespaces)
		if err != nil {
			return err
		}
		return p.add(j, byNS, targets)
	})
}

// namespaces lists the target namespaces the plan writes, sorted.
func (p *plan) namespaces() []string {
	seen := map[string]bool{}
	var out []string
	for _, j := range p.jobs {
		for _, ns := range []string{j.ns(), j.dataNS()} {
			if !seen[ns] {
				seen[ns] = true
				out = append(out, ns)
			}
		}
	}
	sort.Strings(out)
	return out
}
