package kafkastore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/tidelog/tidelog/store"
)

// gapName names a gap record "<after T.I>-<next T.I>", as the directory
// store names its files: recording the same gap again lists it once (the
// copy completed last is read). The JSON in the value is authoritative.
func gapName(gap store.Gap) string {
	return gap.After.String() + "-" + gap.Next.String()
}

// PutGap records a gap of stream durably: one frame holding the gap's JSON,
// acknowledged by Kafka before PutGap returns nil.
func (s *Store) PutGap(ctx context.Context, stream string, gap store.Gap) error {
	name := gapName(gap)
	op := "put gap " + stream + "/" + name
	if err := s.check(ctx, op, s.validStream(stream)); err != nil {
		return err
	}
	data, err := json.Marshal(gap)
	if err != nil {
		return s.errorf(op, err)
	}
	if err := s.ensureTopic(ctx, stream); err != nil {
		return s.errorf(op, err)
	}
	if err := s.putBytes(ctx, stream, kindGap, name, data); err != nil {
		return s.errorf(op, err)
	}
	return nil
}

// Gaps lists stream's gaps ordered by After (then Next). A gap record that
// cannot be parsed is an error, not skipped: a lost gap would let a restore
// claim history it lacks.
func (s *Store) Gaps(ctx context.Context, stream string) ([]store.Gap, error) {
	op := "list gaps of " + stream
	if err := s.check(ctx, op, s.validStream(stream)); err != nil {
		return nil, err
	}
	var recs map[string][]byte
	err := s.refreshed(ctx, stream, func(ix *topicIndex) {
		recs = make(map[string][]byte, len(ix.gaps))
		for name, o := range ix.gaps {
			recs[name] = o.value
		}
	})
	if err != nil {
		return nil, s.errorf(op, err)
	}
	gaps := make([]store.Gap, 0, len(recs))
	for name, data := range recs {
		g, err := store.DecodeGap(data)
		if err != nil {
			return nil, s.errorf(op, fmt.Errorf("gap %s: malformed: %w", name, err))
		}
		gaps = append(gaps, g)
	}
	store.SortGaps(gaps)
	return gaps, nil
}
