package snapshot

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/tidelog/tidelog/crypt"
	"github.com/tidelog/tidelog/store"
)

// Take copies every user collection of client's replica set into st as a
// new snapshot of opts.Stream and writes the manifest last.
//
// The order is what makes the snapshot consistent: Start is read before
// anything is copied, the collections are listed and copied (by
// opts.Workers at once), End is read after the last copy, and only then is
// the manifest stored. Writes may go on throughout.
//
// On error the files stored so far stay behind as an incomplete snapshot
// (List reports it; the error names it). A crash leaves the same, so every
// reader must already tell complete snapshots from incomplete ones, and
// cleaning up here would only delay a caller that asked to stop.
func Take(ctx context.Context, client *mongo.Client, st store.Store, opts Options, log zerolog.Logger) (*Manifest, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	src, err := openSource(ctx, client)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	m := &Manifest{Version: FormatVersion, Stream: opts.Stream, ReplicaSet: src.setName, Server: src.server,
		IncludeUsers: opts.IncludeUsers}
	if m.Stream == "" {
		m.Stream = src.setName
	}
	m.Taken = opts.Now().UTC()
	if m.Start, err = src.startPosition(ctx); err != nil {
		return nil, fmt.Errorf("snapshot of %s: start position: %w", m.Stream, err)
	}
	if m.ID, err = freeID(ctx, st, m.Stream, NewID(m.Taken, m.Start)); err != nil {
		return nil, err
	}
	log = log.With().Str("stream", m.Stream).Str("snapshot", m.ID).Logger()
	log.Info().Str("start", m.Start.String()).Str("server", m.Server).Int("workers", opts.Workers).Msg("snapshot started")

	if err := copyAll(ctx, src, st, m, opts, log); err != nil {
		return nil, fmt.Errorf("snapshot %s of %s is incomplete (no manifest; List reports it, DeleteSnapshot removes it): %w", m.ID, m.Stream, err)
	}
	if m.End, err = src.newest(ctx); err != nil {
		return nil, fmt.Errorf("snapshot %s of %s is incomplete: end position: %w", m.ID, m.Stream, err)
	}
	m.Finished = opts.Now().UTC()
	if m.End.Before(m.Start) {
		// The oplog went back in time: a rollback or another server. The
		// copy cannot be placed in the stream's history.
		return nil, fmt.Errorf("snapshot %s of %s is incomplete: the newest oplog entry went back from %s to %s during the copy", m.ID, m.Stream, m.Start, m.End)
	}
	if err := src.checkRenames(ctx, m.Start, m.End, m.Collections); err != nil {
		return nil, fmt.Errorf("snapshot %s of %s is incomplete: %w", m.ID, m.Stream, err)
	}
	m.sumTotals()
	data, sum, err := encodeManifest(m)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s of %s is incomplete: encode the manifest: %w", m.ID, m.Stream, err)
	}
	m.read = ReadOptions{Keys: opts.Keys}
	if opts.Keys.Len() > 0 {
		if data, m.KeyID, err = sealManifest(data, m.Stream, m.ID, opts.Keys); err != nil {
			return nil, fmt.Errorf("snapshot %s of %s is incomplete: encrypt the manifest: %w", m.ID, m.Stream, err)
		}
		m.Encrypted = true
	}
	if _, err := st.PutSnapshotFile(ctx, m.Stream, m.ID, ManifestName, bytes.NewReader(data)); err != nil {
		return nil, fmt.Errorf("snapshot %s of %s is incomplete: store the manifest: %w", m.ID, m.Stream, err)
	}
	m.Checksum = sum
	log.Info().Str("start", m.Start.String()).Str("end", m.End.String()).Int("collections", len(m.Collections)).
		Int("files", m.Files).Int64("docs", m.Docs).Int64("bytes", m.Bytes).Int64("stored_bytes", m.StoredBytes).
		Dur("took", m.Finished.Sub(m.Taken)).Msg("snapshot complete")
	return m, nil
}

// copyAll lists the collections into m, plans each (in parallel: the _id
// scans of big collections take time), then copies every file, biggest
// first so that one large collection does not start last and run alone.
func copyAll(ctx context.Context, src *source, st store.Store, m *Manifest, opts Options, log zerolog.Logger) error {
	cs, err := src.listCollections(ctx, opts.IncludeUsers)
	if err != nil {
		return err
	}
	m.Collections = cs
	var withData []int
	for i, c := range cs {
		if c.Type == TypeCollection {
			withData = append(withData, i)
		}
	}
	planned := make([][]copyTask, len(cs)) // each worker fills its own element
	err = runAll(ctx, opts.Workers, withData, func(ctx context.Context, i int) error {
		var err error
		planned[i], err = planCollection(ctx, src, cs, i, opts.SplitDocs, log)
		return err
	})
	if err != nil {
		return err
	}
	var tasks []copyTask
	for i, ts := range planned {
		if len(ts) > 0 {
			cs[i].Files = make([]File, len(ts))
		}
		tasks = append(tasks, ts...)
	}
	slices.SortStableFunc(tasks, func(a, b copyTask) int { return cmp.Compare(b.weight, a.weight) })
	return runAll(ctx, opts.Workers, tasks, func(ctx context.Context, t copyTask) error {
		began := time.Now()
		f, err := copyFile(ctx, src, st, m.Stream, m.ID, t, opts.Keys)
		if err != nil {
			return err
		}
		cs[t.coll].Files[t.part] = f // each task owns its element
		log.Debug().Str("ns", t.ns).Str("file", f.Name).Int64("docs", f.Docs).Int64("bytes", f.RawBytes).
			Int64("stored_bytes", f.StoredBytes).Dur("took", time.Since(began)).Msg("file stored")
		return nil
	})
}

// sealManifest encrypts manifest.json's bytes into an envelope bound to
// this snapshot's manifest.
func sealManifest(data []byte, stream, id string, keys *crypt.Keyring) ([]byte, crypt.KeyID, error) {
	var out bytes.Buffer
	w, err := crypt.NewWriter(&out, keys, objectContext(stream, id, ManifestName))
	if err != nil {
		return nil, crypt.KeyID{}, err
	}
	if _, err := w.Write(data); err != nil {
		return nil, crypt.KeyID{}, err
	}
	if err := w.Close(); err != nil {
		return nil, crypt.KeyID{}, err
	}
	return out.Bytes(), w.KeyID(), nil
}

// freeID returns id, or id with a "-2", "-3"... suffix if a snapshot of
// that ID already exists (two snapshots in one second with no write
// between them), so that a Take never writes into another's directory.
func freeID(ctx context.Context, st store.Store, stream, id string) (string, error) {
	ids, err := st.Snapshots(ctx, stream)
	if err != nil {
		return "", fmt.Errorf("snapshot of %s: list snapshots: %w", stream, err)
	}
	for n, cand := 2, id; ; n++ {
		if !slices.Contains(ids, cand) {
			return cand, nil
		}
		cand = fmt.Sprintf("%s-%d", id, n)
	}
}
