package tailer

import (
	"context"

	"github.com/tidelog/tidelog/segment"
)

// noteEncryptionChange logs when the segments about to be written are
// encrypted differently from the head segment already stored: the chain
// then mixes plaintext and encrypted segments, or two keys, and the people
// who restore it need to know (replayer requires --allow-unencrypted to
// read plaintext segments once it is given keys, and every key of the chain
// to read across it). Only the head's header is read; a failure to read it
// is logged and changes nothing.
func (t *Tailer) noteEncryptionChange(ctx context.Context, head segment.Info) {
	rc, err := t.store.OpenSegment(ctx, t.stream, head.Name)
	if err != nil {
		t.log.Debug().Err(err).Str("segment", head.Name).Msg("could not read the head segment's header to compare its encryption")
		return
	}
	defer rc.Close()
	h, _, err := segment.ReadHeader(rc)
	if err != nil {
		t.log.Debug().Err(err).Str("segment", head.Name).Msg("could not read the head segment's header to compare its encryption")
		return
	}
	primary := t.cfg.Keys.Primary()
	switch {
	case !h.Encrypted && !primary.IsZero():
		t.log.Warn().Str("segment", head.Name).Stringer("key_id", primary.ID()).
			Msg("the stream's segments so far are unencrypted; from here on they are encrypted: restores across this point need the key and replayer --allow-unencrypted for the older ones")
	case h.Encrypted && primary.IsZero():
		t.log.Warn().Str("segment", head.Name).Stringer("head_key_id", h.KeyID).
			Msg("the stream's segments so far are encrypted, but tailerd has no key now: new segments are stored UNENCRYPTED; give --encryption-key-file (or TIDELOG_ENCRYPTION_KEY) to keep encrypting")
	case h.Encrypted && h.KeyID != primary.ID():
		_, known := t.cfg.Keys.Lookup(h.KeyID)
		t.log.Info().Str("segment", head.Name).Stringer("head_key_id", h.KeyID).Stringer("key_id", primary.ID()).Bool("old_key_loaded", known).
			Msg("key rotated: new segments use the new key; keep the old key in the key file for as long as segments or snapshots encrypted with it are kept")
	}
}
