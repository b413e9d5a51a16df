package crypt

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// The key id is HMAC-SHA256(key, "tidelog key id v1")[:8], computed here by
// an independent implementation (Python's hmac) for the key 00 01 .. 1f.
func TestKeyIDKnownAnswer(t *testing.T) {
	b := make([]byte, KeySize)
	for i := range b {
		b[i] = byte(i)
	}
	k, err := KeyFromBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	if got := k.ID().String(); got != "5674181044c6d02a" {
		t.Fatalf("key id %s, want 5674181044c6d02a", got)
	}
	for _, s := range []string{"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", hex.EncodeToString(b)} {
		p, err := ParseKey(s)
		if err != nil {
			t.Fatalf("ParseKey(%d chars): %v", len(s), err)
		}
		if p.ID() != k.ID() {
			t.Fatalf("parsed key has id %s, want %s", p.ID(), k.ID())
		}
	}
	if got := FormatKey(k); got != "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" {
		t.Fatalf("FormatKey = %q", got)
	}
}

func TestNewKeyIsRandomAndParsesBack(t *testing.T) {
	a, b := NewKey(), NewKey()
	if a.ID() == b.ID() {
		t.Fatal("two new keys have the same id")
	}
	p, err := ParseKey(FormatKey(a))
	if err != nil {
		t.Fatal(err)
	}
	if p.ID() != a.ID() || !bytes.Equal(p.bytes(), a.bytes()) {
		t.Fatal("FormatKey/ParseKey does not round-trip")
	}
}

func TestParseKeyRejectsWithoutEcho(t *testing.T) {
	good := FormatKey(testKey(t, 9))
	for _, s := range []string{
		"", "short", good[:43], good + "A", strings.Replace(good, "A", "!", 1),
		strings.Repeat("g", 64),                        // 64 chars, not hex
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8A", // 44 chars, no padding: 33 bytes
	} {
		_, err := ParseKey(s)
		if err == nil {
			t.Fatalf("ParseKey accepted a %d-char string", len(s))
		}
		if s != "" && strings.Contains(err.Error(), s) {
			t.Fatalf("error echoes the input: %v", err)
		}
	}
}

// No fmt verb, JSON encoding, or containing struct shows key bytes.
func TestKeysNeverPrint(t *testing.T) {
	a, b := testKey(t, 1), testKey(t, 100)
	kr := testRing(t, a, b)
	type holder struct {
		Key  Key
		Ring *Keyring
		key  Key
		ring Keyring
	}
	h := holder{Key: a, Ring: kr, key: b, ring: *kr}
	var outs []string
	for _, v := range []any{a, &a, kr, *kr, h, &h, []Key{a, b}, map[string]Key{"k": a}} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%d", "%q", "%o", "%b", "%T %p"} {
			outs = append(outs, fmt.Sprintf(verb, v))
		}
		j, err := json.Marshal(v)
		if err == nil {
			outs = append(outs, string(j))
		}
	}
	for _, k := range []Key{a, b} {
		secrets := []string{FormatKey(k), hex.EncodeToString(k.bytes()), strings.ToUpper(hex.EncodeToString(k.bytes())),
			string(k.bytes()[:8]), fmt.Sprint(k.bytes()[:6])[1:12]}
		for _, out := range outs {
			for _, s := range secrets {
				if strings.Contains(out, s) {
					t.Fatalf("key material %q appears in %q", s, out)
				}
			}
		}
	}
	if s := fmt.Sprint(kr); !strings.Contains(s, a.ID().String()) || !strings.Contains(s, b.ID().String()) {
		t.Fatalf("a keyring prints as %q, want its key ids", s)
	}
	var nilRing *Keyring
	if s := fmt.Sprint(nilRing); s != "keyring(no keys)" {
		t.Fatalf("nil keyring prints %q", s)
	}
}

func TestKeyringOrder(t *testing.T) {
	a, b, c := testKey(t, 1), testKey(t, 2), testKey(t, 3)
	kr := testRing(t, b, a)
	if kr.Primary().ID() != b.ID() || kr.Len() != 2 {
		t.Fatalf("primary %s len %d", kr.Primary().ID(), kr.Len())
	}
	if _, ok := kr.Lookup(a.ID()); !ok {
		t.Fatal("old key not found")
	}
	if _, ok := kr.Lookup(c.ID()); ok {
		t.Fatal("foreign key found")
	}
	if _, err := NewKeyring(a, b, a); err == nil || !strings.Contains(err.Error(), "keys 1 and 3") {
		t.Fatalf("duplicate key: %v", err)
	}
	if _, err := NewKeyring(); err == nil {
		t.Fatal("empty keyring accepted")
	}
}
