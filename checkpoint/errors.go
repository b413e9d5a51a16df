package checkpoint

import "errors"

// ErrCorrupt is returned (wrapped) when the checkpoint directory, or a value
// in it, cannot be trusted: Pebble cannot open the directory, the directory
// is not a Pebble database, its format version is unknown, or a value fails
// its checksum. The checkpoint holds nothing that the store does not, so the
// remedy is always the same: move the directory aside and let tailerd rebuild
// its position from the store.
var ErrCorrupt = errors.New("not a usable tidelog checkpoint")

// ErrChain is returned (wrapped) by Commit when a segment does not continue
// its stream's chain; nothing is written. It means a bug or a second writer
// on the stream, never a condition to retry.
var ErrChain = errors.New("segment does not continue the stream's chain")

// ErrClosed is returned (wrapped) by every method of a closed DB.
var ErrClosed = errors.New("checkpoint closed")

// corruptHint is what to do about ErrCorrupt, for messages.
const corruptHint = "move it aside; tailerd rebuilds its position from the store on the next start"
