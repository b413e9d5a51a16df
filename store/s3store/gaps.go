package s3store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/tidelog/tidelog/store"
)

// maxGapSize bounds what is read of one gap object (a gap is ~150 bytes of JSON).
const maxGapSize = 64 << 10

// gapName is the object name of gap: "<after T.I>-<next T.I>.gap.json", as
// in dirstore. The name is for people and for idempotence (recording the
// same gap again rewrites the same object); the JSON inside is authoritative.
func gapName(gap store.Gap) string {
	return gap.After.String() + "-" + gap.Next.String() + gapSuffix
}

// PutGap records a gap of stream as one JSON object. Recording the same gap
// again replaces its object.
func (s *Store) PutGap(ctx context.Context, stream string, gap store.Gap) error {
	name := gapName(gap)
	op := "put gap " + stream + "/" + name
	if err := s.checkStream(ctx, op, stream); err != nil {
		return err
	}
	data, err := json.Marshal(gap)
	if err != nil {
		return s.fail(op, err)
	}
	if err := s.putBytes(ctx, op, s.gapsKey(stream)+name, append(data, '\n')); err != nil {
		return s.fail(op, err)
	}
	return nil
}

// Gaps lists stream's gaps ordered by After (then Next). A stream with
// nothing in the store has no gaps. A gap object that cannot be parsed is an
// error, not skipped: a lost gap would let a restore claim history it lacks.
// A gap deleted between the listing and its read is skipped.
func (s *Store) Gaps(ctx context.Context, stream string) ([]store.Gap, error) {
	op := "list gaps of " + stream
	if err := s.checkStream(ctx, op, stream); err != nil {
		return nil, err
	}
	names, err := s.list(ctx, op, s.gapsKey(stream), false, func(n string) bool { return listedName(n, gapSuffix) }, 0)
	if err != nil {
		return nil, s.fail(op, err)
	}
	gaps := make([]store.Gap, 0, len(names))
	for _, name := range names {
		data, err := s.readSmall(ctx, op, s.gapsKey(stream)+name, maxGapSize)
		if isNotExist(err) {
			continue
		}
		if err != nil {
			return nil, s.fail(op, fmt.Errorf("read %s: %w", name, err))
		}
		g, err := store.DecodeGap(data)
		if err != nil {
			return nil, s.fail(op, fmt.Errorf("gap %s is malformed: %w", name, err))
		}
		gaps = append(gaps, g)
	}
	store.SortGaps(gaps)
	return gaps, nil
}
