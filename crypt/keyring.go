package crypt

import (
	"errors"
	"fmt"
	"strings"
)

// Keyring is an ordered set of keys: the first (primary) encrypts, every
// key decrypts. Rotation is putting a new key first and keeping the old
// ones below it, for as long as data written with them is kept: losing a
// key loses the data it encrypted.
//
// A nil *Keyring is valid and holds no key: objects are then written in
// plaintext and encrypted objects cannot be read. Its methods print ids
// only. A Keyring is immutable and safe for concurrent use.
type Keyring struct{ keys []Key }

// NewKeyring returns a keyring of keys, the first primary. It needs at least
// one key and refuses a key given twice (by id: the id is derived from the
// key, so equal ids mean equal keys).
func NewKeyring(keys ...Key) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("crypt: a keyring needs at least one key")
	}
	for i, k := range keys {
		if k.IsZero() {
			return nil, fmt.Errorf("crypt: key %d is the zero key", i+1)
		}
		for j := range i {
			if keys[j].ID() == k.ID() {
				return nil, fmt.Errorf("crypt: keys %d and %d are the same key (id %s)", j+1, i+1, k.ID())
			}
		}
	}
	return &Keyring{keys: append([]Key(nil), keys...)}, nil
}

// Primary returns the key new objects are encrypted with; the zero Key for
// a nil keyring.
func (kr *Keyring) Primary() Key {
	if kr == nil || len(kr.keys) == 0 {
		return Key{}
	}
	return kr.keys[0]
}

// Len is the number of keys.
func (kr *Keyring) Len() int {
	if kr == nil {
		return 0
	}
	return len(kr.keys)
}

// IDs returns the key ids in keyring order.
func (kr *Keyring) IDs() []KeyID {
	if kr == nil {
		return nil
	}
	ids := make([]KeyID, len(kr.keys))
	for i, k := range kr.keys {
		ids[i] = k.ID()
	}
	return ids
}

// Lookup returns the key with id, if the keyring holds it.
func (kr *Keyring) Lookup(id KeyID) (Key, bool) {
	if kr == nil {
		return Key{}, false
	}
	for _, k := range kr.keys {
		if k.ID() == id {
			return k, true
		}
	}
	return Key{}, false
}

// String lists the key ids, primary first.
func (kr *Keyring) String() string {
	if kr.Len() == 0 {
		return "keyring(no keys)"
	}
	return "keyring(" + idList(kr.IDs()) + ")"
}

// GoString is String: %#v must not print the bytes either.
func (kr *Keyring) GoString() string { return kr.String() }

// Format prints String for every verb.
func (kr *Keyring) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(kr.String())) }

// MarshalText writes String, so JSON and text loggers never see key bytes.
func (kr *Keyring) MarshalText() ([]byte, error) { return []byte(kr.String()), nil }

// idList formats ids for messages: "a1b2..., c3d4...".
func idList(ids []KeyID) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = id.String()
	}
	return strings.Join(s, ", ")
}
