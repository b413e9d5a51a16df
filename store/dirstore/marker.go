package dirstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/tidelog/tidelog/internal/durable"
	"github.com/tidelog/tidelog/store"
)

// The marker file identifies a directory as a tidelog store. Its version is
// raised when the layout changes incompatibly; a store of a newer version is
// refused rather than misread.
const (
	markerFormat  = "tidelog-store"
	markerVersion = 1
)

type marker struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
}

const notStoreHint = "point --store at a tidelog store or an empty directory"

// writeMarker writes the marker file durably into root, which exists.
func writeMarker(root string) error {
	data, err := json.Marshal(marker{Format: markerFormat, Version: markerVersion})
	if err != nil {
		return err
	}
	return durable.WriteFile(root, markerName, append(data, '\n'))
}

// checkMarker returns nil if root, a non-empty directory, holds a marker
// this build understands, and otherwise an error wrapping store.ErrNotStore.
func checkMarker(root string) error {
	data, err := os.ReadFile(filepath.Join(root, markerName))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("dirstore %s: directory is not empty and has no %s; %s: %w", root, markerName, notStoreHint, store.ErrNotStore)
	}
	if err != nil {
		return fmt.Errorf("dirstore %s: read %s: %w", root, markerName, err)
	}
	var m marker
	if err := json.Unmarshal(data, &m); err != nil || m.Format != markerFormat || m.Version < 1 {
		return fmt.Errorf("dirstore %s: malformed %s (want {\"format\":%q,\"version\":%d}); %s: %w",
			root, markerName, markerFormat, markerVersion, notStoreHint, store.ErrNotStore)
	}
	if m.Version > markerVersion {
		return fmt.Errorf("dirstore %s: store has layout version %d, this tidelog reads up to %d; upgrade tidelog or %s: %w",
			root, m.Version, markerVersion, notStoreHint, store.ErrNotStore)
	}
	return nil
}
