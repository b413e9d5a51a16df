package load

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// Server error codes that say the target lacks a feature rather than that
// the request was wrong for this data.
const (
	codeCommandNotSupported = 115
	codeNotImplemented      = 238
)

// UnsupportedError says the target cannot create a namespace as the source
// had it: a view, a timeseries collection, or a collection option the target
// does not implement (FerretDB has none of views, timeseries, validators and
// collations). Nothing is skipped: the load stops, before the first document.
type UnsupportedError struct {
	NS     string // the target namespace
	Source string // the source's namespace (before renames)
	What   string // what the target refused, for a person
	Type   string // TypeCollection, TypeView or TypeTimeseries
	Err    error  // the target's answer
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("load %s: the target does not support %s: %v", e.NS, e.What, e.Err)
}

func (e *UnsupportedError) Unwrap() error { return e.Err }

// createAll creates every job's namespace, riskiest first (see riskRank),
// then checks which options the target kept.
func createAll(ctx context.Context, client *mongo.Client, p *plan, log zerolog.Logger) error {
	order := make([]*job, len(p.jobs))
	copy(order, p.jobs)
	sort.SliceStable(order, func(a, b int) bool { return riskRank(order[a]) < riskRank(order[b]) })
	for _, j := range order {
		if j.reuse {
			continue
		}
		if err := create(ctx, client, j); err != nil {
			return err
		}
	}
	return checkOptions(ctx, client, p, log)
}

// riskRank orders creates so that what a target is least likely to support
// comes first: a refusal then comes before any other write.
func riskRank(j *job) int {
	switch {
	case j.kind == TypeView:
		return 0
	case j.kind == TypeTimeseries:
		return 1
	case len(j.options) > 0:
		return 2
	}
	return 3
}

// create runs create for one job. A system.* collection without options is
// left to the first insert to create (servers restrict explicit creates of
// some, such as admin.system.users).
func create(ctx context.Context, client *mongo.Client, j *job) error {
	if strings.HasPrefix(j.name, "system.") && len(j.options) == 0 {
		return nil
	}
	cmd := append(bson.D{{Key: "create", Value: j.name}}, j.options...)
	err := client.Database(j.db).RunCommand(ctx, cmd).Err()
	if err == nil {
		return nil
	}
	var se mongo.ServerError
	if errors.As(err, &se) && (se.HasErrorCode(codeNotImplemented) || se.HasErrorCode(codeCommandNotSupported)) {
		return &UnsupportedError{NS: j.ns(), Source: j.srcNS, What: describe(j), Type: j.kind, Err: err}
	}
	return nsError(j.ns(), "create "+describe(j), err)
}

// describe names what a job creates, for errors.
func describe(j *job) string {
	switch j.kind {
	case TypeView:
		on := ""
		for _, e := range j.options {
			if e.Key == "viewOn" {
				on = fmt.Sprintf(" on %v", e.Value)
			}
		}
		return "a view" + on
	case TypeTimeseries:
		return "a timeseries collection"
	}
	if len(j.options) == 0 {
		return "a collection"
	}
	return "a collection with options " + strings.Join(optionKeys(j.options), ", ")
}

func optionKeys(opts bson.D) []string {
	keys := make([]string, 0, len(opts))
	for _, e := range opts {
		keys = append(keys, e.Key)
	}
	return keys
}

// checkOptions lists the collections created with options and warns about
// each option the target accepted but does not report back: a target may
// ignore options it does not implement (FerretDB ignores flags,
// storageEngine and clusteredIndex), and the operator should know.
func checkOptions(ctx context.Context, client *mongo.Client, p *plan, log zerolog.Logger) error {
	byDB := map[string][]*job{}
	for _, j := range p.jobs {
		if !j.reuse && len(j.options) > 0 {
			byDB[j.db] = append(byDB[j.db], j)
		}
	}
	for db, jobs := range byDB {
		cur, err := client.Database(db).ListCollections(ctx, bson.D{})
		if err != nil {
			return fmt.Errorf("load: list collections of %s on the target: %w", db, err)
		}
		have := map[string]bson.Raw{}
		for cur.Next(ctx) {
			name, _ := cur.Current.Lookup("name").StringValueOK()
			opts, _ := cur.Current.Lookup("options").DocumentOK()
			have[name] = append(bson.Raw(nil), opts...)
		}
		err = cur.Err()
		cur.Close(ctx)
		if err != nil {
			return fmt.Errorf("load: list collections of %s on the target: %w", db, err)
		}
		for _, j := range jobs {
			opts, ok := have[j.name]
			if !ok {
				return nsError(j.ns(), "after create", errors.New("the target does not list the collection"))
			}
			var dropped []string
			for _, e := range j.options {
				if _, err := opts.LookupErr(e.Key); err != nil {
					dropped = append(dropped, e.Key)
				}
			}
			if len(dropped) > 0 {
				log.Warn().Str("ns", j.ns()).Strs("options", dropped).Msg("the target accepted these create options but does not keep them")
			}
		}
	}
	return nil
}
