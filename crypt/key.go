package crypt

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
)

// KeySize is the size of a master key: AES-256.
const KeySize = 32

// KeyIDSize is the size of a key id as stored in headers.
const KeyIDSize = 8

// keyIDLabel is the HMAC message a key id is derived with. Deriving the id
// from the key (rather than letting people name keys) means a wrong key can
// never pose under the right id, and an id reveals nothing usable about the
// key.
const keyIDLabel = "tidelog key id v1"

// KeyID identifies a key without revealing it: the first 8 bytes of
// HMAC-SHA256(key, "tidelog key id v1"). Headers store it so a reader picks
// the right key of a keyring, and errors name it so people know which key
// an object needs.
type KeyID [KeyIDSize]byte

// String returns the id as 16 lowercase hex digits.
func (id KeyID) String() string { return hex.EncodeToString(id[:]) }

// IsZero reports whether id is unset.
func (id KeyID) IsZero() bool { return id == KeyID{} }

// MarshalText writes the id as String does.
func (id KeyID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// Key is a 32-byte master key. Its methods print its id only. The bytes
// are reachable only through a func value: fmt prints a func as an address
// whatever the verb and however deeply nested (a pointer would be followed
// by %s or %d on a Key inside another struct's unexported field), and JSON
// goes through MarshalText. The zero Key is no key (IsZero); it cannot
// encrypt or decrypt.
type Key struct {
	id       KeyID
	material func() *[KeySize]byte
}

// NewKey returns a fresh random key from crypto/rand.
func NewKey() Key {
	var b [KeySize]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand documents it)
	return keyFrom(b)
}

// KeyFromBytes returns the key whose 32 bytes are b (copied).
func KeyFromBytes(b []byte) (Key, error) {
	if len(b) != KeySize {
		return Key{}, fmt.Errorf("crypt: a key is %d bytes, not %d", KeySize, len(b))
	}
	return keyFrom([KeySize]byte(b)), nil
}

func keyFrom(b [KeySize]byte) Key {
	mac := hmac.New(sha256.New, b[:])
	mac.Write([]byte(keyIDLabel))
	k := Key{material: func() *[KeySize]byte { return &b }}
	copy(k.id[:], mac.Sum(nil))
	return k
}

// ParseKey reads one key written as 44 characters of standard base64 or 64
// hex digits. Its error never contains s.
func ParseKey(s string) (Key, error) {
	var b []byte
	var err error
	switch len(s) {
	case base64.StdEncoding.EncodedLen(KeySize):
		b, err = base64.StdEncoding.Strict().DecodeString(s)
	case hex.EncodedLen(KeySize):
		b, err = hex.DecodeString(s)
	default:
		return Key{}, errNotAKey
	}
	if err != nil || len(b) != KeySize {
		return Key{}, errNotAKey
	}
	return KeyFromBytes(b)
}

// errNotAKey says what a key looks like, without quoting what was given.
var errNotAKey = fmt.Errorf("not a key: a key is %d bytes written as %d characters of standard base64 or %d hex digits (the text is not shown, it may be secret)",
	KeySize, base64.StdEncoding.EncodedLen(KeySize), hex.EncodedLen(KeySize))

// FormatKey returns k in the key-file format (standard base64, 44
// characters). It is the one function that reveals key material, for a
// command that generates keys; nothing else should call it.
func FormatKey(k Key) string {
	if k.material == nil {
		return ""
	}
	return base64.StdEncoding.EncodeToString(k.material()[:])
}

// ID returns the key's id; the zero KeyID for the zero Key.
func (k Key) ID() KeyID { return k.id }

// IsZero reports whether k is the zero Key (no key).
func (k Key) IsZero() bool { return k.material == nil }

// String names the key by its id.
func (k Key) String() string {
	if k.material == nil {
		return "key(none)"
	}
	return "key " + k.id.String()
}

// GoString is String: %#v must not print the bytes either.
func (k Key) GoString() string { return k.String() }

// Format prints String for every verb, so that no verb (%x, %d, %+v, ...)
// reaches the key bytes through fmt's reflection.
func (k Key) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(k.String())) }

// MarshalText writes the id only, so JSON and text loggers never see the bytes.
func (k Key) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// bytes returns the key material, for key derivation only.
func (k Key) bytes() []byte { return k.material()[:] }
