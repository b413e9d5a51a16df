package snapshot

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/tidelog/tidelog/crypt"
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
// Verify does that. It reads plaintext manifests only; an encrypted one
// fails with ErrKeyRequired (ReadManifestWith takes keys).
func ReadManifest(ctx context.Context, st store.Store, stream, id string) (*Manifest, error) {
	return ReadManifestWith(ctx, st, stream, id, ReadOptions{})
}

// ReadManifestWith is ReadManifest with options. An encrypted manifest is
// decrypted with opts.Keys (ErrKeyRequired or ErrWrongKey, naming the key
// id, when it cannot be); a plaintext one is refused with ErrNotEncrypted
// if opts.RequireEncryption. The Manifest keeps opts for Docs and Verify.
func ReadManifestWith(ctx context.Context, st store.Store, stream, id string, opts ReadOptions) (*Manifest, error) {
	rc, err := st.OpenSnapshotFile(ctx, stream, id, ManifestName)
	if errors.Is(err, store.ErrNotExist) {
		return nil, fmt.Errorf("snapshot %s/%s: %w: %w", stream, id, ErrIncomplete, err)
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot %s/%s: %w", stream, id, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxStoredManifestSize+1))
	if err != nil {
		return nil, fmt.Errorf("snapshot %s/%s: read %s: %w", stream, id, ManifestName, err)
	}
	if len(data) > maxStoredManifestSize {
		return nil, &CorruptError{Stream: stream, ID: id, File: ManifestName,
			Reason: fmt.Sprintf("larger than %d bytes", maxStoredManifestSize)}
	}
	var keyID crypt.KeyID
	encrypted := crypt.IsEnvelope(data)
	switch {
	case encrypted:
		if data, keyID, err = openManifest(data, stream, id, opts.Keys); err != nil {
			return nil, err
		}
	case opts.RequireEncryption:
		return nil, &crypt.NotEncryptedError{Object: objectName(stream, id, ManifestName)}
	}
	if len(data) > maxManifestSize {
		return nil, &CorruptError{Stream: stream, ID: id, File: ManifestName,
			Reason: fmt.Sprintf("larger than %d bytes", maxManifestSize)}
	}
	m, err := decodeManifest(data, stream, id)
	if err != nil {
		return nil, err
	}
	m.Encrypted, m.KeyID, m.read = encrypted, keyID, opts
	return m, nil
}

// maxStoredManifestSize bounds an encrypted manifest: the plaintext bound
// plus the envelope's header and tags (which the smallest chunk size
// makes a quarter of the size at most).
const maxStoredManifestSize = maxManifestSize + maxManifestSize/4 + 64<<10

// openManifest decrypts an encrypted manifest, bounded by maxManifestSize.
func openManifest(data []byte, stream, id string, keys *crypt.Keyring) ([]byte, crypt.KeyID, error) {
	r, err := crypt.NewReader(bytes.NewReader(data), keys, objectContext(stream, id, ManifestName))
	if err != nil {
		return nil, crypt.KeyID{}, decryptErr(err, stream, id, ManifestName)
	}
	plain, err := io.ReadAll(io.LimitReader(r, maxManifestSize+1))
	if err != nil {
		return nil, crypt.KeyID{}, decryptErr(err, stream, id, ManifestName)
	}
	return plain, r.KeyID(), nil
}

// Listing is what ListWith finds in a stream's snapshots directory.
type Listing struct {
	// Complete snapshots, oldest first (by Start, then by the time they
	// were taken).
	Complete []*Manifest
	// Incomplete snapshots: without a manifest (interrupted) or with a
	// damaged one. Nothing restores from them.
	Incomplete []string
	// Unreadable snapshots, which may well be complete: encrypted with a
	// key not given (ErrKeyRequired, ErrWrongKey, naming the key id), or
	// plaintext where encryption is required (ErrNotEncrypted). They are
	// neither complete nor incomplete: a cleanup must not delete them.
	Unreadable []Unreadable
}

// Unreadable is a snapshot ListWith could not read, and why.
type Unreadable struct {
	ID  string
	Err error
}

// List returns the complete snapshots of stream, oldest first (by Start,
// then by the time they were taken), and the IDs of the incomplete ones:
// directories without a manifest (interrupted) or with a damaged one. An
// incomplete snapshot is never returned as complete. A manifest of a newer
// format version is an error (ErrUnsupported), not incomplete: the
// snapshot may be fine, and a cleanup that trusted List must not delete it.
// For the same reason an encrypted snapshot, which List cannot read
// without keys, is an error (ErrKeyRequired): ListWith takes keys and
// reports such snapshots apart.
func List(ctx context.Context, st store.Store, stream string) (complete []*Manifest, incomplete []string, err error) {
	l, err := ListWith(ctx, st, stream, ReadOptions{})
	if err != nil {
		return nil, nil, err
	}
	if len(l.Unreadable) > 0 {
		errs := make([]error, len(l.Unreadable))
		for i, u := range l.Unreadable {
			errs[i] = u.Err
		}
		return nil, nil, fmt.Errorf("list snapshots of %s: %w", stream, errors.Join(errs...))
	}
	return l.Complete, l.Incomplete, nil
}

// ListWith is List with options: manifests are read with opts (see
// ReadManifestWith), and snapshots that cannot be read with them are
// reported in Unreadable rather than failing the listing.
func ListWith(ctx context.Context, st store.Store, stream string, opts ReadOptions) (Listing, error) {
	ids, err := st.Snapshots(ctx, stream)
	if err != nil {
		return Listing{}, fmt.Errorf("list snapshots of %s: %w", stream, err)
	}
	var l Listing
	for _, id := range ids {
		m, err := ReadManifestWith(ctx, st, stream, id, opts)
		switch {
		case err == nil:
			l.Complete = append(l.Complete, m)
		case errors.Is(err, ErrKeyRequired), errors.Is(err, ErrWrongKey), errors.Is(err, ErrNotEncrypted):
			l.Unreadable = append(l.Unreadable, Unreadable{ID: id, Err: err})
		case errors.Is(err, ErrIncomplete), errors.Is(err, ErrCorrupt):
			l.Incomplete = append(l.Incomplete, id)
		default:
			return Listing{}, err
		}
	}
	slices.SortStableFunc(l.Complete, func(a, b *Manifest) int {
		return cmp.Or(a.Start.Compare(b.Start), a.Taken.Compare(b.Taken), cmp.Compare(a.ID, b.ID))
	})
	return l, nil
}
