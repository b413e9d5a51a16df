package snapshot

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tidelog/tidelog/crypt"
	"github.com/tidelog/tidelog/oplog"
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
	// Incomplete snapshots: without a manifest, so interrupted before they
	// finished (Take stores the manifest last). Nothing restores from them,
	// and tailerd deletes them.
	Incomplete []string
	// Damaged snapshots: a manifest is present but fails its checksum, its
	// authentication (encrypted) or its consistency checks; Err matches
	// ErrCorrupt and names the file. Nothing restores from them, and
	// nothing deletes them by itself: the data files may be intact, and a
	// person decides.
	Damaged []Unreadable
	// Unreadable snapshots, which may well be complete: encrypted with a
	// key not given (ErrKeyRequired, ErrWrongKey, naming the key id), or
	// plaintext where encryption is required (ErrNotEncrypted: by the read
	// options, or because the stream's encryption had begun before it,
	// *PlaintextAfterEncryptionError). They are neither complete nor
	// incomplete: a cleanup must not delete them.
	Unreadable []Unreadable
}

// Unreadable is a snapshot ListWith could not use, and why.
type Unreadable struct {
	ID  string
	Err error
	// Start is the snapshot's start position: the manifest's when it was
	// read, else the one its ID carries (IDStart); zero when neither is
	// known. A restore to the latest position uses it to tell whether the
	// snapshot could have reached further than the plan without it.
	Start oplog.Timestamp
}

// List returns the complete snapshots of stream, oldest first (by Start,
// then by the time they were taken), and the IDs of the incomplete ones:
// directories without a manifest (interrupted) or with a damaged one. An
// incomplete snapshot is never returned as complete. A manifest of a newer
// format version is an error (ErrUnsupported), not incomplete: the
// snapshot may be fine, and a cleanup that trusted List must not delete it.
// For the same reason an encrypted snapshot, which List cannot read
// without keys, is an error (ErrKeyRequired): ListWith takes keys and
// reports such snapshots apart, and tells interrupted snapshots from
// damaged ones.
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
	incomplete = l.Incomplete
	for _, d := range l.Damaged {
		incomplete = append(incomplete, d.ID)
	}
	slices.Sort(incomplete)
	return l.Complete, incomplete, nil
}

// ListWith is List with options: manifests are read with opts (see
// ReadManifestWith), and snapshots that cannot be read with them are
// reported in Unreadable rather than failing the listing.
//
// Once a stream is encrypted it stays so ("once encrypted, always
// encrypted"): a plaintext snapshot is the stream's own only if it was
// taken before its encryption began, so ListWith refuses, into Unreadable
// with a *PlaintextAfterEncryptionError, a plaintext manifest that starts
// after an encrypted snapshot of the stream starts, that was taken after
// one was (by ID), or that starts at or after opts.SegmentsEncryptedFrom.
// Whoever can write to the store can forge a plaintext manifest (no key
// is needed, and its checksum is not secret); counted, it would pass for
// the newest snapshot and make retention delete the real ones. It is
// refused with or without keys: the envelope shows an encrypted snapshot
// without its key.
func ListWith(ctx context.Context, st store.Store, stream string, opts ReadOptions) (Listing, error) {
	ids, err := st.Snapshots(ctx, stream)
	if err != nil {
		return Listing{}, fmt.Errorf("list snapshots of %s: %w", stream, err)
	}
	var l Listing
	var enc encryptionBegan
	// Plaintext manifests are read even where encryption is required, and
	// refused below: a forged one is then named as such.
	lenient := opts
	lenient.RequireEncryption = false
	for _, id := range ids {
		m, err := ReadManifestWith(ctx, st, stream, id, lenient)
		switch {
		case err == nil:
			m.read = opts
			l.Complete = append(l.Complete, m)
			if m.Encrypted {
				enc.note(m.ID, m.Start)
			}
		case errors.Is(err, ErrKeyRequired), errors.Is(err, ErrWrongKey):
			start, _ := IDStart(id)
			l.Unreadable = append(l.Unreadable, Unreadable{ID: id, Err: err, Start: start})
			enc.note(id, start)
		case errors.Is(err, ErrCorrupt):
			start, _ := IDStart(id)
			l.Damaged = append(l.Damaged, Unreadable{ID: id, Err: err, Start: start})
		case errors.Is(err, ErrIncomplete):
			l.Incomplete = append(l.Incomplete, id)
		default:
			return Listing{}, err
		}
	}
	l.refusePlaintext(stream, enc, opts)
	slices.SortStableFunc(l.Unreadable, func(a, b Unreadable) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortStableFunc(l.Complete, func(a, b *Manifest) int {
		return cmp.Or(a.Start.Compare(b.Start), a.Taken.Compare(b.Taken), cmp.Compare(a.ID, b.ID))
	})
	return l, nil
}

// encryptionBegan is the earliest encrypted snapshot of a stream: the
// smallest start position and the smallest ID (IDs sort by the time they
// were taken), each zero while none is known.
type encryptionBegan struct {
	startID string // the snapshot with the smallest start
	start   oplog.Timestamp
	firstID string
}

func (e *encryptionBegan) note(id string, start oplog.Timestamp) {
	if e.firstID == "" || id < e.firstID {
		e.firstID = id
	}
	if !start.IsZero() && (e.start.IsZero() || start.Before(e.start)) {
		e.start, e.startID = start, id
	}
}

// refusePlaintext moves to Unreadable every complete plaintext manifest
// that is not older than the stream's encryption (ListWith), and the
// others too where opts require encryption.
func (l *Listing) refusePlaintext(stream string, enc encryptionBegan, opts ReadOptions) {
	segments := opts.SegmentsEncryptedFrom
	kept := l.Complete[:0]
	for _, m := range l.Complete {
		var since string
		switch {
		case m.Encrypted:
		case !enc.start.IsZero() && m.Start.After(enc.start):
			since = fmt.Sprintf("snapshot %s (start %s); this one starts later, at %s", enc.startID, enc.start, m.Start)
		case enc.firstID != "" && m.ID > enc.firstID:
			since = fmt.Sprintf("snapshot %s; this one was taken later", enc.firstID)
		case !segments.IsZero() && !m.Start.Before(segments):
			since = fmt.Sprintf("the segment starting %s; this one starts at %s", segments, m.Start)
		}
		var err error
		switch {
		case since != "":
			err = &PlaintextAfterEncryptionError{Stream: stream, ID: m.ID, Since: since}
		case !m.Encrypted && opts.RequireEncryption:
			err = &crypt.NotEncryptedError{Object: objectName(stream, m.ID, ManifestName)}
		default:
			kept = append(kept, m)
			continue
		}
		l.Unreadable = append(l.Unreadable, Unreadable{ID: m.ID, Start: m.Start, Err: err})
	}
	l.Complete = kept
}

// PlaintextAfterEncryptionError refuses a plaintext snapshot of a stream
// whose encryption began before it (ListWith). It matches ErrNotEncrypted,
// whatever the read options: no flag makes such a snapshot usable.
type PlaintextAfterEncryptionError struct {
	Stream, ID string
	Since      string // what encryption began with, for people
}

func (e *PlaintextAfterEncryptionError) Error() string {
	return "snapshot " + e.Stream + "/" + e.ID + " is not encrypted, but the stream is encrypted since " + e.Since +
		": plaintext after encryption began is forged, or was written by a tailerd without its key; it is not used for restores or retention. " +
		"Check where it came from, then move it out of the store"
}

// Is matches ErrNotEncrypted.
func (e *PlaintextAfterEncryptionError) Is(target error) bool { return target == ErrNotEncrypted }

// IDStart is the start position an ID made by NewID carries
// ("20261121T184700Z-1700000000.0000000005", or with the "-2" suffix
// Take adds to a second ID of the same second); false for any other name.
// It is what is known of a snapshot whose manifest cannot be read.
func IDStart(id string) (oplog.Timestamp, bool) {
	when, pos, ok := strings.Cut(id, "-")
	if len(pos) > 21 && pos[21] == '-' {
		pos = pos[:21]
	}
	if !ok || len(when) != len(idTimeLayout) || len(pos) != 21 || pos[10] != '.' {
		return oplog.Timestamp{}, false
	}
	if _, err := time.Parse(idTimeLayout, when); err != nil {
		return oplog.Timestamp{}, false
	}
	t, err1 := strconv.ParseUint(pos[:10], 10, 32)
	i, err2 := strconv.ParseUint(pos[11:], 10, 32)
	if err1 != nil || err2 != nil {
		return oplog.Timestamp{}, false
	}
	return oplog.Timestamp{T: uint32(t), I: uint32(i)}, true
}
