package load

import (
	"context"

	"github.com/rs/zerolog"

	"github.com/tidelog/tidelog/replay"
)

// Deferred is what a load with SkipIndexes would leave to its caller,
// computed without touching a target: the index specs it defers
// (Stats.Deferred) and the target namespaces it writes (Stats.Namespaces).
// A resumed restore needs them: the stopped one loaded the base, and its
// replay still has to build those indexes at its end.
func Deferred(ctx context.Context, colls []Collection, opts Options, log zerolog.Logger) ([]replay.Index, []string, error) {
	p, err := newPlan(ctx, colls, opts, log)
	if err != nil {
		return nil, nil, err
	}
	return p.deferred(), p.namespaces(), nil
}

// deferred lists the plan's index specs, to be built after the data.
func (p *plan) deferred() []replay.Index {
	var out []replay.Index
	for _, j := range p.jobs {
		for _, spec := range j.indexes {
			out = append(out, replay.Index{NS: j.ns(), Spec: spec})
		}
	}
	return out
}
