// Package crypttest holds the keys and checks that tests of encrypted
// objects share: fixed and fresh keys, keyrings, and a check that a message
// shows no key material.
package crypttest

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/tidelog/tidelog/crypt"
)

// Key returns a fixed key: the 32 bytes seed, seed+1, ...
func Key(t testing.TB, seed byte) crypt.Key {
	t.Helper()
	b := make([]byte, crypt.KeySize)
	for i := range b {
		b[i] = seed + byte(i)
	}
	k, err := crypt.KeyFromBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Ring returns the keyring of keys, the first primary; with no keys, a
// keyring of one fresh random key.
func Ring(t testing.TB, keys ...crypt.Key) *crypt.Keyring {
	t.Helper()
	if len(keys) == 0 {
		keys = []crypt.Key{crypt.NewKey()}
	}
	kr, err := crypt.NewKeyring(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// NoKeyMaterial fails if msg shows any of the keys: whole or in part, in
// base64 or hex.
func NoKeyMaterial(t testing.TB, msg string, keys ...crypt.Key) {
	t.Helper()
	for _, k := range keys {
		b64 := crypt.FormatKey(k)
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{b64, b64[:12], hex.EncodeToString(raw)[:16]} {
			if strings.Contains(msg, s) {
				t.Fatalf("key material in %q", msg)
			}
		}
	}
}
