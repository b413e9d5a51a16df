package snapshot

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/store"
)

// Verify reads every data file of snapshot m in full and checks it against
// the manifest, as Docs does, after checking the manifest's own
// consistency. It goes on past a damaged file so that one run names every
// damaged file: the result joins one error per file, each matching
// ErrCorrupt. Any other failure (the store, ctx) stops it at once.
func Verify(ctx context.Context, st store.Store, m *Manifest) error {
	if err := m.validate(m.Stream, m.ID); err != nil {
		return &CorruptError{Stream: m.Stream, ID: m.ID, File: ManifestName, Reason: "inconsistent manifest", Err: err}
	}
	var damaged []error
	for _, c := range m.Collections {
		for _, f := range c.Files {
			err := readFile(ctx, st, m, f, func(bson.Raw) error { return nil })
			switch {
			case err == nil:
			case errors.Is(err, ErrCorrupt):
				damaged = append(damaged, err)
			default:
				return fmt.Errorf("verify snapshot %s/%s: %w", m.Stream, m.ID, err)
			}
		}
	}
	return errors.Join(damaged...)
}
