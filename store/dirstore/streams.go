package dirstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/tidelog/tidelog/store"
)

// Streams lists, sorted, the streams that have at least one segment, gap or
// snapshot.
// A stream whose segments were all deleted keeps its directory but is not
// listed.
func (s *Store) Streams(ctx context.Context) ([]string, error) {
	if err := s.checkCtx(ctx, "list streams"); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(filepath.Join(s.root, streamsDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("dirstore %s: list streams: %w", s.root, err)
	}
	var streams []string
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() || store.ValidStream(name) != nil {
			continue
		}
		segs, err := listDir(s.segmentsDir(name), segmentSuffix)
		if err != nil {
			return nil, fmt.Errorf("dirstore %s: list streams: %w", s.root, err)
		}
		if len(segs) == 0 {
			gaps, err := listDir(s.gapsDir(name), gapSuffix)
			if err != nil {
				return nil, fmt.Errorf("dirstore %s: list streams: %w", s.root, err)
			}
			if len(gaps) == 0 {
				snaps, err := s.Snapshots(ctx, name)
				if err != nil {
					return nil, err
				}
				if len(snaps) == 0 {
					continue
				}
			}
		}
		streams = append(streams, name)
	}
	slices.Sort(streams) // ReadDir sorts already; keep the contract explicit
	return streams, nil
}
