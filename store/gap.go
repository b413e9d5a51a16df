package store

import (
	"encoding/json"
	"fmt"
)

// Validate checks the invariants every recorded gap keeps: Next is after
// After (a gap of nothing, or one that runs backwards, cannot have been
// recorded by a tailer), and a late entry lies inside the history the
// segments claim, at or before After. A gap file reading `null` or `{}`
// decodes without error as the zero gap; refusing it here keeps a damaged
// record from passing for a gap and hiding what it lost.
func (g Gap) Validate() error {
	switch {
	case !g.After.Before(g.Next):
		return fmt.Errorf("gap after %s, next %s: next must come after after", g.After, g.Next)
	case g.Late != nil && (g.Late.IsZero() || g.After.Before(*g.Late)):
		return fmt.Errorf("gap after %s with late entry %s: the late entry must be at or before after", g.After, *g.Late)
	}
	return nil
}

// DecodeGap reads a gap as the stores keep it (JSON) and validates it.
func DecodeGap(data []byte) (Gap, error) {
	var g Gap
	if err := json.Unmarshal(data, &g); err != nil {
		return Gap{}, err
	}
	if err := g.Validate(); err != nil {
		return Gap{}, err
	}
	return g, nil
}
