package snapshot

import (
	"errors"
	"fmt"

	"github.com/tidelog/tidelog/crypt"
	"github.com/tidelog/tidelog/oplog"
)

// ReadOptions shape how snapshots are read: ReadManifestWith and ListWith
// take them, and the Manifests they return keep them for Docs and Verify,
// so that the data files are read as the manifest was.
type ReadOptions struct {
	// Keys decrypt encrypted manifests and data files. Nil: an encrypted
	// snapshot cannot be read (ErrKeyRequired, naming its key id).
	Keys *crypt.Keyring
	// RequireEncryption refuses plaintext manifests and data files
	// (ErrNotEncrypted). The data files of an encrypted manifest must be
	// encrypted in any case: a plaintext file could be forged to match the
	// size and CRC-32C the manifest records, which are not secret.
	RequireEncryption bool
	// SegmentsEncryptedFrom is where the stream's first encrypted segment
	// starts (catalog.Stream.EncryptedFrom); zero: none is encrypted, or
	// the caller does not know. ListWith refuses a plaintext manifest that
	// starts at or after it: the stream's encryption had begun.
	SegmentsEncryptedFrom oplog.Timestamp
}

// ErrKeyRequired is matched (errors.Is) by the error for an encrypted
// snapshot read without keys; it names the snapshot and the key id. It is
// crypt.ErrKeyRequired.
var ErrKeyRequired = crypt.ErrKeyRequired

// ErrWrongKey is matched (errors.Is) by the error for an encrypted snapshot
// whose key is not among those given. It is crypt.ErrWrongKey.
var ErrWrongKey = crypt.ErrWrongKey

// ErrNotEncrypted is matched (errors.Is) by the error for a plaintext
// manifest or data file where encryption is required. It is
// crypt.ErrNotEncrypted.
var ErrNotEncrypted = crypt.ErrNotEncrypted

// objectContext is the identity sealed into the envelope of a snapshot
// file: a file copied, renamed or moved to another snapshot or stream is
// rejected, naming where it belongs.
func objectContext(stream, id, file string) string {
	return "snapshot/" + stream + "/" + id + "/" + file
}

// objectName names a snapshot file in key and policy errors.
func objectName(stream, id, file string) string {
	return "snapshot " + stream + "/" + id + " file " + file
}

// decryptErr turns an error of crypt.NewReader, or of reading it, into this
// package's kinds: damage is a *CorruptError naming the file, a newer
// envelope is ErrUnsupported, a missing or wrong key keeps its
// *crypt.KeyError renamed after the file. Other errors (the store's) are
// returned as they are.
func decryptErr(err error, stream, id, file string) error {
	var de *crypt.DamagedError
	var ke *crypt.KeyError
	switch {
	case errors.As(err, &de):
		return &CorruptError{Stream: stream, ID: id, File: file, Reason: fmt.Sprintf("encrypted, damaged at byte %d: %s", de.Offset, de.Reason)}
	case errors.As(err, &ke):
		ke.Object = objectName(stream, id, file)
		return ke
	case errors.Is(err, crypt.ErrUnsupported):
		return fmt.Errorf("snapshot %s/%s: file %s: %w (%w)", stream, id, file, err, ErrUnsupported)
	}
	return err
}
