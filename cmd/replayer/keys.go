package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/tidelog/tidelog/crypt"
	"github.com/tidelog/tidelog/segment"
	"github.com/tidelog/tidelog/snapshot"
)

// keyFlags are how every command that reads the store gets the keys of an
// encrypted store: a key file or the environment, never the key itself on
// the command line, where other users of the host can read it.
type keyFlags struct {
	file             string
	allowUnencrypted bool
}

func (k *keyFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&k.file, "encryption-key-file", "",
		"`FILE` of the store's encryption keys, one per line, the current one first (see docs/encryption.md); or set "+crypt.EnvVar+" instead. Never give a key itself on the command line")
	fs.BoolVar(&k.allowUnencrypted, "allow-unencrypted", false,
		"with keys: also read unencrypted segments and snapshots (written before encryption was turned on); without it they are refused, because anyone who can write to the store could forge them")
}

// readKeys are the keys a command reads the store with, and whether
// plaintext is refused.
type readKeys struct {
	ring    *crypt.Keyring // nil: none given
	require bool           // keys given and no --allow-unencrypted
	from    string         // where the keys came from, for messages
}

// load reads the keys from --encryption-key-file or TIDELOG_ENCRYPTION_KEY
// (both given is bad usage: which one is meant?). A key file other users
// can read gets a warning on stderr.
func (k *keyFlags) load(stderr io.Writer) (readKeys, error) {
	return k.loadFrom(stderr, os.LookupEnv)
}

func (k *keyFlags) loadFrom(stderr io.Writer, lookup func(string) (string, bool)) (readKeys, error) {
	ring, src, err := crypt.Load(k.file, "--encryption-key-file", lookup)
	if errors.Is(err, crypt.ErrBothGiven) {
		return readKeys{}, coded(exitUsage, fmt.Errorf("both --encryption-key-file and %s are given: give the keys one way only", crypt.EnvVar))
	}
	if err != nil {
		return readKeys{}, coded(exitUsage, err)
	}
	if src.Warning != "" {
		fmt.Fprintf(stderr, "replayer: warning: %s\n", src.Warning)
	}
	return readKeys{ring: ring, require: ring != nil && !k.allowUnencrypted, from: src.From}, nil
}

func (rk readKeys) segments() segment.ReaderOptions {
	return segment.ReaderOptions{Keys: rk.ring, RequireEncryption: rk.require}
}

func (rk readKeys) snapshots() snapshot.ReadOptions {
	return snapshot.ReadOptions{Keys: rk.ring, RequireEncryption: rk.require}
}

// ids lists the keys' ids for messages: "a1b2..., c3d4...".
func (rk readKeys) ids() string { return crypt.IDList(rk.ring.IDs()) }

// keyErrorCode maps an encryption policy error to its exit code: a missing
// or wrong key is bad usage (2: run again with the right key); a plaintext
// object where encryption is required is a store that does not hold what it
// should (4), unless it predates encryption (--allow-unencrypted). ok is
// false for other errors.
func keyErrorCode(err error) (int, bool) {
	switch {
	case errors.Is(err, crypt.ErrKeyRequired), errors.Is(err, crypt.ErrWrongKey):
		return exitUsage, true
	case errors.Is(err, crypt.ErrNotEncrypted):
		return exitDamaged, true
	}
	return 0, false
}
