package crypt

import (
	"errors"
	"strconv"
)

// KeyHint tells people how to give tidelog a key; messages end with it.
const KeyHint = "tailerd/replayer --encryption-key-file FILE or " + EnvVar

// ErrKeyRequired is matched (errors.Is) by the error for an encrypted
// object read without any key. The object may be fine.
var ErrKeyRequired = errors.New("encryption key required")

// ErrWrongKey is matched (errors.Is) by the error for an encrypted object
// whose key is not among the keys given. The object may be fine.
var ErrWrongKey = errors.New("wrong encryption key")

// ErrNotEncrypted is matched (errors.Is) by the error for a plaintext
// object read where encryption is required: without the check, whoever can
// write to the store could slip in a forged plaintext object.
var ErrNotEncrypted = errors.New("not encrypted but encryption is required")

// ErrDamaged is matched (errors.Is) by every error for an encrypted object
// whose bytes are not what was written: failed authentication, a damaged
// header, a cut, an object stored under another's identity.
var ErrDamaged = errors.New("encrypted object damaged")

// ErrUnsupported is matched (errors.Is) by the error for an intact envelope
// (its header CRC holds) of a version or algorithm this build does not know.
var ErrUnsupported = errors.New("unsupported encryption format")

// KeyError reports that an object cannot be decrypted with the keys given.
// It matches ErrKeyRequired when no key was given, ErrWrongKey otherwise.
// It names key ids only.
type KeyError struct {
	Object string  // what was being read, e.g. "segment NAME"
	KeyID  KeyID   // the key the object is encrypted with
	Loaded []KeyID // the keys given, primary first; empty: none
}

func (e *KeyError) Error() string {
	if len(e.Loaded) == 0 {
		return e.Object + " is encrypted with key " + e.KeyID.String() + ": give the key (" + KeyHint + ")"
	}
	return e.Object + ": wrong key: it is encrypted with key " + e.KeyID.String() +
		", which is not among the keys given (" + idList(e.Loaded) +
		"): add that key to the key file, below the current one (" + KeyHint + ")"
}

// Is matches ErrKeyRequired or ErrWrongKey.
func (e *KeyError) Is(target error) bool {
	if len(e.Loaded) == 0 {
		return target == ErrKeyRequired
	}
	return target == ErrWrongKey
}

// NotEncryptedError reports a plaintext object where encryption is required.
type NotEncryptedError struct {
	Object string // e.g. "segment NAME"
}

func (e *NotEncryptedError) Error() string {
	return e.Object + " is not encrypted but encryption is required: if it predates encryption pass --allow-unencrypted"
}

// Is matches ErrNotEncrypted.
func (e *NotEncryptedError) Is(target error) bool { return target == ErrNotEncrypted }

// DamagedError reports where an encrypted object failed.
type DamagedError struct {
	Object string // e.g. the envelope's context; empty if the caller names it
	Offset int64  // bytes of the object consumed when the problem was found
	Reason string // for people
}

func (e *DamagedError) Error() string {
	s := "encrypted object"
	if e.Object != "" {
		s += " " + e.Object
	}
	return s + ": damaged at byte " + strconv.FormatInt(e.Offset, 10) + ": " + e.Reason
}

// Is matches ErrDamaged.
func (e *DamagedError) Is(target error) bool { return target == ErrDamaged }

// UnsupportedError reports an intact envelope in a format this build does
// not know.
type UnsupportedError struct {
	Feature string // e.g. "envelope version 2"
}

func (e *UnsupportedError) Error() string {
	return "encrypted object: " + e.Feature + " is not supported by this tidelog; upgrade tidelog to read it"
}

// Is matches ErrUnsupported.
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupported }
