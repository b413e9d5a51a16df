package snapshot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/tidelog/tidelog/store"
)

// ErrIncomplete is matched (errors.Is) by ReadManifest's error for a
// snapshot without a manifest: one interrupted before it finished, or one
// that does not exist. The error also matches store.ErrNotExist.
var ErrIncomplete = errors.New("snapshot incomplete (no manifest)")

// maxManifestSize bounds what ReadManifest reads: a manifest lists files,
// not documents, so even a hundred thousand collections stay far below it.
const maxManifestSize = 256 << 20

// ReadManifest loads snapshot id of stream and checks its manifest: the
// checksum over its bytes, its format version (ErrUnsupported for a newer
// one), that it names this stream and ID, and that its counts add up. A
// missing manifest yields an error matching ErrIncomplete; a damaged or
// inconsistent one, an error matching ErrCorrupt. Data files are not read:
// Verify does that.
func ReadManifest(ctx context.Context, st store.Store, stream, id string) (*Manifest, error) {
	rc, err := st.OpenSnapshotFile(ctx, stream, id, ManifestName)
	if errors.Is(err, store.ErrNotExist) {
		return nil, fmt.Errorf("snapshot %s/%s: %w: %w", stream, id, ErrIncomplete, err)
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot %s/%s: %w", stream, id, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxManifestSize+1))
	if err != nil {
		return nil, fmt.Errorf("snapshot %s/%s: read %s: %w", stream, id, ManifestName, err)
	}
	if len(data) > maxManifestSize {
		return nil, &CorruptError{Stream: stream, ID: id, File: ManifestName,
			Reason: fmt.Sprintf("larger than %d bytes", maxManifestSize)}
	}
	return decodeManifest(data, stream, id)
}

// List returns the complete snapshots of stream, oldest first (by Start,
// then by the time they were taken), and the IDs of the incomplete ones:
// directories without a manifest (interrupted) or with a damaged one. An
// incomplete snapshot is never returned as complete. A manifest of a newer
// format version is an error (ErrUnsupported), not incomplete: the
// snapshot may be fine, and a cleanup that trusted List must not delete it.
func List(ctx context.Context, st store.Store, stream string) (complete []*Manifest, incomplete []string, err error) {
	ids, err := st.Snapshots(ctx, stream)
	if err != nil {
		return nil, nil, fmt.Errorf("list snapshots of %s: %w", stream, err)
	}
	for _, id := range ids {
		m, err := ReadManifest(ctx, st, stream, id)
		switch {
		case err == nil:
			complete = append(complete, m)
		case errors.Is(err, ErrIncomplete), errors.Is(err, ErrCorrupt):
			incomplete = append(incomplete, id)
		default:
			return nil, nil, err
		}
	}
	slices.SortStableFunc(complete, func(a, b *Manifest) int {
		return cmp.Or(a.Start.Compare(b.Start), a.Taken.Compare(b.Taken), cmp.Compare(a.ID, b.ID))
	})
	return complete, incomplete, nil
}
