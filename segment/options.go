package segment

import "github.com/tidelog/tidelog/crypt"

// WriterOptions shape a Writer.
type WriterOptions struct {
	// Keys, when it holds a key, makes every segment encrypted with its
	// primary key (a fresh per-segment key and salt each). Nil: plaintext
	// segments, as before encryption existed.
	Keys *crypt.Keyring
}

// ReaderOptions shape a Reader (and VerifyWith).
type ReaderOptions struct {
	// Keys decrypt encrypted segments: the key a segment names must be
	// among them. Nil: an encrypted segment fails with an error matching
	// ErrKeyRequired (VerifyStructure still checks it without a key).
	Keys *crypt.Keyring
	// RequireEncryption refuses plaintext segments (ErrNotEncrypted), so
	// that whoever can write to the store cannot slip in a forged
	// plaintext segment where encrypted ones are expected.
	RequireEncryption bool
}
