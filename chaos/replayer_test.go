package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/tidelog/tidelog/internal/procs"
	"github.com/tidelog/tidelog/oplog"
)

// replayer runs the replayer to completion (bounded) with env added.
func replayer(env []string, args ...string) (procs.Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	return procs.Run(ctx, filepath.Join(binDir, "replayer"), env, args...)
}

// listing is what the checks read of `replayer list --json`.
type listing struct {
	Streams []struct {
		Name              string `json:"name"`
		RestorableWindows []struct {
			From string `json:"from"`
			To   string `json:"to"`
			Base string `json:"base"`
		} `json:"restorable_windows"`
		Snapshots []struct {
			ID    string `json:"id"`
			Start string `json:"start"`
			End   string `json:"end"`
		} `json:"snapshots"`
		Gaps []struct {
			After string `json:"after"`
			Next  string `json:"next"`
		} `json:"gaps"`
	} `json:"streams"`
}

// span is a range of positions, both ends given.
type span struct{ From, To oplog.Timestamp }

func (s span) String() string { return s.From.String() + ".." + s.To.String() }

// gap is a recorded gap: history after After and before Next is lost.
type gap struct{ After, Next oplog.Timestamp }

func (g gap) String() string { return "after " + g.After.String() + ", next " + g.Next.String() }

// contains reports whether ts lies strictly inside the gap.
func (g gap) contains(ts oplog.Timestamp) bool { return ts.After(g.After) && ts.Before(g.Next) }

// catalogOf is the stream's listing, parsed.
type catalogOf struct {
	Snapshots []span
	Gaps      []gap
}

func list(env []string, loc string) (catalogOf, error) {
	r, err := replayer(env, "list", "--store", loc, "--json")
	if err != nil {
		return catalogOf{}, err
	}
	if r.Code != 0 {
		return catalogOf{}, fmt.Errorf("replayer list: %s", r)
	}
	var l listing
	if err := json.Unmarshal([]byte(r.Stdout), &l); err != nil {
		return catalogOf{}, fmt.Errorf("replayer list --json: %w\n%s", err, r.Stdout)
	}
	var c catalogOf
	for _, s := range l.Streams {
		if s.Name != stream {
			return c, fmt.Errorf("the store holds stream %q; the run writes only %q", s.Name, stream)
		}
		for _, sn := range s.Snapshots {
			a, err1 := oplog.Parse(sn.Start)
			b, err2 := oplog.Parse(sn.End)
			if err1 != nil || err2 != nil {
				return c, fmt.Errorf("snapshot %s: start %q end %q", sn.ID, sn.Start, sn.End)
			}
			c.Snapshots = append(c.Snapshots, span{a, b})
		}
		for _, g := range s.Gaps {
			a, err1 := oplog.Parse(g.After)
			b, err2 := oplog.Parse(g.Next)
			if err1 != nil || err2 != nil {
				return c, fmt.Errorf("gap %q..%q", g.After, g.Next)
			}
			c.Gaps = append(c.Gaps, gap{a, b})
		}
	}
	return c, nil
}
