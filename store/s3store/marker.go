package s3store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/tidelog/tidelog/store"
)

// The marker object identifies a bucket or prefix as a tidelog store; it is
// the same JSON as dirstore's marker file. Its version is raised when the
// layout changes incompatibly; a store of a newer version is refused rather
// than misread.
const (
	markerFormat  = "tidelog-store"
	markerVersion = 1
	// maxMarkerSize bounds what is read of an object named like the marker.
	maxMarkerSize = 4 << 10
)

type marker struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
}

const notStoreHint = "point the store at a tidelog store or an empty bucket or prefix"

// openMarker reads the marker, or initializes an empty bucket or prefix
// (with create), or refuses what is there.
func (s *Store) openMarker(ctx context.Context, create bool) error {
	data, err := s.readSmall(ctx, "read marker", s.markerKey(), maxMarkerSize)
	switch code := s3Code(err); {
	case err == nil:
		return s.checkMarker(data)
	case code == codeNoSuchBucket:
		return s.fail("open store", fmt.Errorf("bucket %s does not exist: create it first (e.g. `mc mb ALIAS/%s`) or fix the bucket name: %w",
			s.bucket, s.bucket, store.ErrNotExist))
	case code != codeNoSuchKey:
		return s.fail("open store: read "+markerName, err)
	}
	keys, err := s.list(ctx, "open store: look for objects", s.prefix, true, nil, 1)
	if err != nil {
		return s.fail("open store", err)
	}
	if len(keys) > 0 {
		return s.fail("open store", fmt.Errorf("holds objects (e.g. %s) but no %s; %s: %w", s.prefix+keys[0], markerName, notStoreHint, store.ErrNotStore))
	}
	if !create {
		return s.fail("open store", fmt.Errorf("no tidelog store there (empty bucket or prefix; create the store first): %w", store.ErrNotExist))
	}
	data, err = json.Marshal(marker{Format: markerFormat, Version: markerVersion})
	if err != nil {
		return s.fail("create store", err)
	}
	if err := s.putBytes(ctx, "create store: write "+markerName, s.markerKey(), append(data, '\n')); err != nil {
		return s.fail("create store", err)
	}
	return nil
}

// checkMarker accepts a marker this build understands and refuses others
// with an error wrapping store.ErrNotStore.
func (s *Store) checkMarker(data []byte) error {
	var m marker
	if err := json.Unmarshal(data, &m); err != nil || m.Format != markerFormat || m.Version < 1 {
		return s.fail("open store", fmt.Errorf("malformed %s (want {\"format\":%q,\"version\":%d}); %s: %w",
			markerName, markerFormat, markerVersion, notStoreHint, store.ErrNotStore))
	}
	if m.Version > markerVersion {
		return s.fail("open store", fmt.Errorf("store has layout version %d, this tidelog reads up to %d; upgrade tidelog or %s: %w",
			m.Version, markerVersion, notStoreHint, store.ErrNotStore))
	}
	return nil
}
