package dirstore

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tidelog/tidelog/internal/durable"
	"github.com/tidelog/tidelog/store"
)

// gapName is the file name of gap: "<after T.I>-<next T.I>.gap.json". The
// name is for people and for idempotence (recording the same gap again
// rewrites the same file); the file's JSON is authoritative.
func gapName(gap store.Gap) string {
	return gap.After.String() + "-" + gap.Next.String() + gapSuffix
}

// PutGap records a gap of stream durably, as one JSON file written like a
// segment (see the package comment). Recording the same gap again replaces
// its file.
func (s *Store) PutGap(ctx context.Context, stream string, gap store.Gap) error {
	if err := s.checkStream(ctx, "put gap", stream); err != nil {
		return err
	}
	name := gapName(gap)
	data, err := json.Marshal(gap)
	if err != nil {
		return fmt.Errorf("dirstore %s: put gap %s/%s: %w", s.root, stream, name, err)
	}
	dir := s.gapsDir(stream)
	if err := s.ensureDir(dir); err != nil {
		return fmt.Errorf("dirstore %s: put gap %s/%s: %w", s.root, stream, name, err)
	}
	if err := durable.WriteFile(dir, name, append(data, '\n')); err != nil {
		return fmt.Errorf("dirstore %s: put gap %s/%s: %w", s.root, stream, name, err)
	}
	return nil
}

// Gaps lists stream's gaps ordered by After (then Next). A stream with
// nothing in the store has no gaps. A gap file that cannot be parsed is an
// error, not skipped: a lost gap would let a restore claim history it lacks.
func (s *Store) Gaps(ctx context.Context, stream string) ([]store.Gap, error) {
	if err := s.checkStream(ctx, "list gaps", stream); err != nil {
		return nil, err
	}
	dir := s.gapsDir(stream)
	names, err := listDir(dir, gapSuffix)
	if err != nil {
		return nil, fmt.Errorf("dirstore %s: list gaps of %s: %w", s.root, stream, err)
	}
	gaps := make([]store.Gap, 0, len(names))
	for _, name := range names {
		if err := s.checkCtx(ctx, "list gaps"); err != nil {
			return nil, err
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("dirstore %s: read gap %s/%s: %w", s.root, stream, name, err)
		}
		g, err := store.DecodeGap(data)
		if err != nil {
			return nil, fmt.Errorf("dirstore %s: read gap %s/%s: malformed: %w", s.root, stream, name, err)
		}
		gaps = append(gaps, g)
	}
	store.SortGaps(gaps)
	return gaps, nil
}
