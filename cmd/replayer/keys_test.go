package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tidelog/tidelog/crypt"
)

// Keys come from --encryption-key-file or the environment, not both; with
// keys, plaintext is refused unless --allow-unencrypted.
func TestKeyFlags(t *testing.T) {
	k := crypt.NewKey()
	path := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(path, []byte(crypt.FormatKey(k)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	lookup := func(name string) (string, bool) { v, ok := env[name]; return v, ok }

	var stderr bytes.Buffer
	rk, err := (&keyFlags{file: path}).loadFrom(&stderr, lookup)
	if err != nil || rk.ring.Primary().ID() != k.ID() || !rk.require || !strings.Contains(stderr.String(), "chmod 600 "+path) {
		t.Fatalf("key file: %v, %v, require %v, stderr %q", rk.ring, err, rk.require, stderr.String())
	}
	if rk, err := (&keyFlags{file: path, allowUnencrypted: true}).loadFrom(io.Discard, lookup); err != nil || rk.require || rk.segments().Keys.Len() != 1 {
		t.Fatalf("--allow-unencrypted: %v, require %v", err, rk.require)
	}
	if rk, err := (&keyFlags{}).loadFrom(io.Discard, lookup); err != nil || rk.ring != nil || rk.require {
		t.Fatalf("no keys: %v, %v", rk, err)
	}
	env[crypt.EnvVar] = crypt.FormatKey(k)
	if rk, err := (&keyFlags{}).loadFrom(io.Discard, lookup); err != nil || rk.ring.Primary().ID() != k.ID() || rk.from != crypt.EnvVar {
		t.Fatalf("keys from the environment: %v, %v", rk, err)
	}
	_, err = (&keyFlags{file: path}).loadFrom(io.Discard, lookup)
	var ce *codedError
	if !errors.As(err, &ce) || ce.code != exitUsage || !strings.Contains(err.Error(), "both --encryption-key-file and "+crypt.EnvVar) {
		t.Fatalf("file and environment: %v", err)
	}
}
