package crypt

import (
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseKeyFile(t *testing.T) {
	a, b := testKey(t, 1), testKey(t, 50)
	file := "# tidelog keys, newest first\n\n" +
		FormatKey(a) + "   # current, since March\r\n" +
		"   " + hex.EncodeToString(b.bytes()) + "\n# old\n"
	kr, err := Parse([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	if ids := kr.IDs(); len(ids) != 2 || ids[0] != a.ID() || ids[1] != b.ID() {
		t.Fatalf("ids %v, want %s, %s", ids, a.ID(), b.ID())
	}
}

func TestParseKeyFileErrors(t *testing.T) {
	a := FormatKey(testKey(t, 1))
	typo := a[:10] + "*" + a[11:]
	for _, tc := range []struct {
		file, want string
	}{
		{"# only a comment\n\n", "no key"},
		{"", "no key"},
		{a + "\n\n" + typo + "\n", "line 3: not a key"},
		{a + "\n" + a + "\n", "line 2: the same key as line 1"},
		{"key=" + a + "\n", "line 1: not a key"},
	} {
		_, err := Parse([]byte(tc.file))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("Parse(%q): %v, want %q", tc.file, err, tc.want)
		}
		for _, secret := range []string{a, typo, a[:20], typo[12:30]} {
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("error %q shows key material", err)
			}
		}
	}
}

func TestFromEnv(t *testing.T) {
	a, b := testKey(t, 1), testKey(t, 2)
	env := map[string]string{EnvVar: " " + FormatKey(a) + " , " + hex.EncodeToString(b.bytes()) + "\n"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	kr, err := FromEnv(lookup)
	if err != nil {
		t.Fatal(err)
	}
	if ids := kr.IDs(); len(ids) != 2 || ids[0] != a.ID() || ids[1] != b.ID() {
		t.Fatalf("ids %v", ids)
	}
	env[EnvVar] = FormatKey(a) + ",oops"
	if _, err := FromEnv(lookup); err == nil || !strings.Contains(err.Error(), EnvVar+": key 2: not a key") || strings.Contains(err.Error(), "oops") {
		t.Fatalf("bad second key: %v", err)
	}
	delete(env, EnvVar)
	if kr, err := FromEnv(lookup); kr != nil || err != nil {
		t.Fatalf("unset variable: %v, %v", kr, err)
	}
}

// TestFromEnvSetButEmpty: a variable that is set but holds no key (a
// template or secret store that expanded to nothing) is an error, never
// "no key", which would store or read the backups unencrypted.
func TestFromEnvSetButEmpty(t *testing.T) {
	for _, v := range []string{"", "  ", "\n \n", " , ,", "# the key goes here", "# a\n,  # b\n"} {
		lookup := func(k string) (string, bool) { return v, k == EnvVar }
		kr, err := FromEnv(lookup)
		if err == nil || kr != nil || err.Error() != EnvVar+" is set but holds no key: give the keys or unset it" {
			t.Errorf("%s=%q: keys %v, error %v; want the set-but-empty error", EnvVar, v, kr, err)
		}
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	a := testKey(t, 3)
	path := filepath.Join(dir, "keys")
	if err := os.WriteFile(path, []byte(FormatKey(a)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	kr, err := LoadFile(path)
	if err != nil || kr.Primary().ID() != a.ID() {
		t.Fatalf("LoadFile: %v, %v", kr, err)
	}
	if w := FileWarning(path); w != "" {
		t.Fatalf("warning for a 0600 file: %s", w)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if w := FileWarning(path); !strings.Contains(w, "chmod 600 "+path) || !strings.Contains(w, "0644") {
		t.Fatalf("no warning for a 0644 file: %q", w)
	}
	if _, err := LoadFile(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := LoadFile(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("directory: %v", err)
	}
}
