package tailer

import (
	"github.com/tidelog/tidelog/crypt"
	"github.com/tidelog/tidelog/segment"
)

// checkEncryption compares how the segments about to be written are
// encrypted with the head segment already stored. A tailer without a key
// over an encrypted head refuses to start (a *NoKeyError): its segments
// would be plaintext after encrypted ones, which every reader refuses, and
// the data would quietly be stored unencrypted. A move from plaintext to
// encrypted, or to a new key, is logged: the people who restore across it
// need to know (replayer requires --allow-unencrypted to read plaintext
// segments once it is given keys, and every key of the chain to read
// across it).
// h is the head's stored header, or readErr why it could not be read.
func (t *Tailer) checkEncryption(head segment.Info, h segment.Header, readErr error) error {
	primary := t.cfg.Keys.Primary()
	if readErr != nil {
		if primary.IsZero() {
			return readErr // the check matters most without a key: never skip it
		}
		t.log.Debug().Err(readErr).Str("segment", head.Name).Msg("could not read the head segment's header to compare its encryption")
		return nil
	}
	switch {
	case h.Encrypted && primary.IsZero():
		return &NoKeyError{Stream: t.stream, Segment: head.Name, KeyID: h.KeyID}
	case !h.Encrypted && !primary.IsZero():
		t.log.Warn().Str("segment", head.Name).Stringer("key_id", primary.ID()).
			Msg("the stream's segments so far are unencrypted; from here on they are encrypted: restores across this point need the key and replayer --allow-unencrypted for the older ones")
	case h.Encrypted && h.KeyID != primary.ID():
		_, known := t.cfg.Keys.Lookup(h.KeyID)
		t.log.Info().Str("segment", head.Name).Stringer("head_key_id", h.KeyID).Stringer("key_id", primary.ID()).Bool("old_key_loaded", known).
			Msg("key rotated: new segments use the new key; keep the old key in the key file for as long as segments or snapshots encrypted with it are kept")
	}
	return nil
}

// NoKeyError stops a tailer without a key over a stream whose newest
// segment is encrypted. It matches crypt.ErrKeyRequired, so tailerd exits
// with its configuration code: the remedy is the key.
type NoKeyError struct {
	Stream, Segment string
	KeyID           crypt.KeyID
}

func (e *NoKeyError) Error() string {
	return "the newest segment of stream " + e.Stream + " (" + e.Segment + ") is encrypted with key " + e.KeyID.String() +
		" but no key is given: give it (--encryption-key-file or " + crypt.EnvVar + "); tidelog does not turn encryption off"
}

// Is matches crypt.ErrKeyRequired.
func (e *NoKeyError) Is(target error) bool { return target == crypt.ErrKeyRequired }
