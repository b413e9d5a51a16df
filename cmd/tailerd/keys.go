package main

import (
	"errors"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/tidelog/tidelog/crypt"
)

// loadKeys reads the encryption keys from encryption_key_file
// (--encryption-key-file) or the environment variable
// TIDELOG_ENCRYPTION_KEY. Giving both is an error: which one is meant
// cannot be guessed, and a wrong guess writes backups nobody can read with
// the key they think holds them. A key file other users can read is a
// warning. No key at all is fine for a stream that was never encrypted:
// segments and snapshots are then stored unencrypted, as before encryption
// existed (the tailer and the backup cycle refuse to continue an encrypted
// stream without its key). The variable set but holding no key is an
// error (crypt.FromEnv), never "no key".
func (c *config) loadKeys(lookup func(string) (string, bool)) error {
	kr, src, err := crypt.Load(c.EncryptionKeyFile, c.opt("encryption-key-file"), lookup)
	if errors.Is(err, crypt.ErrBothGiven) {
		return fmt.Errorf("%s and the environment variable %s are both given: give the keys one way only",
			c.opt("encryption-key-file"), crypt.EnvVar)
	}
	if err != nil {
		return err
	}
	c.keys, c.keysFrom = kr, src.From
	if src.Warning != "" {
		c.warnings = append(c.warnings, src.Warning)
	}
	return nil
}

// logEncryption says once, at start, how segments and snapshots are stored:
// the key id (never the key), or that they are not encrypted.
func logEncryption(log zerolog.Logger, c config) {
	if c.keys == nil {
		log.Info().Msg("no encryption key given: segments and snapshots are stored unencrypted (to encrypt them, see docs/encryption.md: tailerd genkey, --encryption-key-file)")
		return
	}
	id := c.keys.Primary().ID()
	log.Info().Stringer("key_id", id).Int("keys", c.keys.Len()).Str("from", c.keysFrom).
		Msgf("encrypting with key %s (%d keys loaded)", id, c.keys.Len())
}

// keysChanged reports a key file whose keys differ from the running ones
// (SIGHUP): the running pipelines keep the keys they started with, so a
// rotation takes effect at the next restart.
func keysChanged(old, next config) (change, bool) {
	o, n := idsOf(old), idsOf(next)
	if o == n {
		return change{}, false
	}
	return change{Key: "encryption keys", Old: o, New: n, Why: "needs a restart"}, true
}

// idsOf shows a configuration's key ids, primary first.
func idsOf(c config) string {
	if c.keys == nil {
		return "none"
	}
	return c.keys.String()
}
