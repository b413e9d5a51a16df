package crypt

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// EnvVar is the environment variable a key can be given in: the key-file
// format, with commas allowed between keys. Keys are never taken from a
// command-line flag, which other users of the host can read in the process
// list.
const EnvVar = "TIDELOG_ENCRYPTION_KEY"

// errNoKey is parse's error for a source holding no key at all.
var errNoKey = errors.New("no key in it (only blank lines or comments): put one key per line, the newest first")

// maxKeyFileSize bounds what LoadFile reads: a key file holds a few keys
// and comments, and a wrong path (a log, a device) must not be read whole.
const maxKeyFileSize = 1 << 20

// Parse reads a key file: one key per line, each as 44 characters of
// standard base64 or 64 hex digits, first line primary. Blank lines and
// comments (from '#' to the end of the line) are ignored. Anything else is
// an error naming the line number, never the line's content: a malformed
// line is often a key with a typo.
func Parse(data []byte) (*Keyring, error) {
	return parse(strings.Split(string(data), "\n"), "line")
}

// parse reads one key per item; unit names an item in errors ("line").
func parse(items []string, unit string) (*Keyring, error) {
	var keys []Key
	var at []int // item number of each key
	for i, item := range items {
		if c := strings.IndexByte(item, '#'); c >= 0 {
			item = item[:c]
		}
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		k, err := ParseKey(item)
		if err != nil {
			return nil, fmt.Errorf("%s %d: %w", unit, i+1, err)
		}
		for j, prev := range keys {
			if prev.ID() == k.ID() {
				return nil, fmt.Errorf("%s %d: the same key as %s %d (id %s)", unit, i+1, unit, at[j], k.ID())
			}
		}
		keys = append(keys, k)
		at = append(at, i+1)
	}
	if len(keys) == 0 {
		return nil, errNoKey
	}
	return NewKeyring(keys...)
}

// LoadFile reads the key file at path (see Parse).
func LoadFile(path string) (*Keyring, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("encryption key file: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, fmt.Errorf("encryption key file %s: %w", path, err)
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("encryption key file %s is not a regular file (%s)", path, fi.Mode().Type())
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("encryption key file %s: %w", path, err)
	}
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("encryption key file %s is larger than %d bytes: not a key file", path, maxKeyFileSize)
	}
	kr, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("encryption key file %s: %w", path, err)
	}
	return kr, nil
}

// FromEnv reads the keys in the environment variable EnvVar through lookup
// (os.LookupEnv, or a test's map): the key-file format, where commas also
// separate keys. It returns nil and no error when the variable is unset.
// Set but holding no key (empty, blanks, comments) is an error, not "no
// key": an empty value is what a secrets template, a typo in the name of
// the variable it expands, or a secret store that failed leaves behind,
// and taking it for "no key" would store the backups unencrypted (tailerd)
// or read them as if they were (replayer).
func FromEnv(lookup func(string) (string, bool)) (*Keyring, error) {
	v, ok := lookup(EnvVar)
	if !ok {
		return nil, nil
	}
	kr, err := parse(strings.FieldsFunc(v, func(r rune) bool { return r == '\n' || r == ',' }), "key")
	if errors.Is(err, errNoKey) {
		return nil, fmt.Errorf("%s is set but holds no key: give the keys or unset it", EnvVar)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvVar, err)
	}
	return kr, nil
}

// FileWarning returns a warning when the key file at path can be read or
// written by other users than its owner (group or others permission bits),
// or "" when it cannot or the file cannot be examined (LoadFile reports
// that). A key file should be mode 0600 or 0400.
func FileWarning(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return ""
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Sprintf("encryption key file %s is accessible to other users (mode %04o): anyone who reads it can decrypt the backups; run chmod 600 %s",
			path, perm, path)
	}
	return ""
}

// Source is where a command's keys came from, for its messages.
type Source struct {
	From    string // "key file PATH" or EnvVar; "" when no key was given
	Warning string // FileWarning of the key file, or ""
}

// ErrBothGiven: a key file and EnvVar were both given. Which one is meant
// cannot be guessed, and a wrong guess writes, or reads, backups with other
// keys than the user thinks; each command words the refusal in its own
// flag or config key.
var ErrBothGiven = errors.New("a key file and " + EnvVar + " are both given")

// Load reads the keys a command is given: the key file at path (when not
// "") or EnvVar through lookup; both is ErrBothGiven. setting names the
// file's flag or config key in errors. Neither given is nil keys, no error.
func Load(path, setting string, lookup func(string) (string, bool)) (*Keyring, Source, error) {
	env, err := FromEnv(lookup)
	if err != nil {
		return nil, Source{}, err
	}
	switch {
	case path != "" && env != nil:
		return nil, Source{}, ErrBothGiven
	case path != "":
		kr, err := LoadFile(path)
		if err != nil {
			return nil, Source{}, fmt.Errorf("%s: %w", setting, err)
		}
		return kr, Source{From: "key file " + path, Warning: FileWarning(path)}, nil
	case env != nil:
		return env, Source{From: EnvVar}, nil
	}
	return nil, Source{}, nil
}

// IDList shows key ids for messages: "a1b2..., c3d4...".
func IDList(ids []KeyID) string { return idList(ids) }
