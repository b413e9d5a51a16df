package tailer

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/segment"
	"github.com/tidelog/tidelog/store"
)

// ErrStoreMismatch marks a store that disagrees with the checkpoint in a way
// only a person can settle: it lost the checkpoint's newest segment, holds a
// segment that does not continue the chain, or a damaged one beyond it.
// Retrying cannot mend it, so tailerd stops instead of restarting capture.
var ErrStoreMismatch = errors.New("store and checkpoint disagree")

// reconcile brings the checkpoint up to what the store holds. A crash after a
// segment became durable in the store but before its checkpoint commit leaves
// that segment ahead of the checkpoint; re-capturing would cut a different,
// overlapping range. So such segments are verified and adopted instead, and
// a lost checkpoint is rebuilt the same way from the store alone.
func (t *Tailer) reconcile(ctx context.Context) (segment.Info, bool, error) {
	head, has, err := t.ckpt.Head(t.stream)
	if err != nil {
		return segment.Info{}, false, err
	}
	names, err := t.store.Segments(ctx, t.stream)
	if err != nil {
		return segment.Info{}, false, fmt.Errorf("list segments of %s in %s: %w", t.stream, t.store, err)
	}
	if has && !slices.Contains(names, head.Name) {
		// The store lost what the checkpoint says it holds (a lost spool, a
		// hand-deleted or expired object). Resuming after the head would
		// leave the store a hole no one reports until a restore needs it.
		newest := "nothing"
		if len(names) > 0 {
			newest = names[len(names)-1]
		}
		return segment.Info{}, false, fmt.Errorf("%w: the checkpoint's newest segment %s/%s is not in %s (its newest is %s); "+
			"put the segment back, or move the checkpoint directory aside to rebuild it from the store "+
			"(capture then resumes after the store's newest segment, or records a gap if the oplog no longer reaches it)",
			ErrStoreMismatch, t.stream, head.Name, t.store, newest)
	}
	// Once a stream is encrypted it stays so: a plaintext segment after an
	// encrypted one is forged (its link to the encrypted head is in that
	// head's clear header, so no key is needed) or was written by a
	// tailerd without its key, and is never adopted. The head's header is
	// read only when there is something to adopt, so that a start reads
	// the head once (readHead).
	encrypted, knowEncrypted := false, !has
	var gaps []store.Gap
	for _, name := range names {
		start, _, err := segment.ParseName(name)
		if err != nil {
			return segment.Info{}, false, fmt.Errorf("store %s: %w", t.store, err)
		}
		if has && !start.After(head.OpEnd) {
			continue
		}
		if !knowEncrypted {
			h, err := t.storedHeader(ctx, head.Name)
			if err != nil {
				return segment.Info{}, false, err
			}
			encrypted, knowEncrypted = h.Encrypted, true
		}
		info, err := t.verifyStored(ctx, name)
		if err != nil {
			return segment.Info{}, false, err
		}
		if encrypted && !info.Encrypted {
			after := "the checkpoint"
			if has {
				after = head.Name
			}
			return segment.Info{}, false, fmt.Errorf("%w: segment %s/%s in %s is plaintext, but the stream's segments before it are encrypted: "+
				"plaintext after encrypted segments is forged, or was written by a tailerd without its key, and is never adopted; "+
				"check where it came from, then move it out of the store and restart (capture resumes after %s)",
				ErrStoreMismatch, t.stream, name, t.store, after)
		}
		encrypted = encrypted || info.Encrypted
		if has && info.Prev != head.Link() {
			if gaps == nil {
				if gaps, err = t.store.Gaps(ctx, t.stream); err != nil {
					return segment.Info{}, false, fmt.Errorf("list gaps of %s: %w", t.stream, err)
				}
			}
			g, ok := gapAfter(gaps, head.OpEnd)
			if !info.Prev.IsZero() || !ok {
				return segment.Info{}, false, fmt.Errorf("%w: segment %s/%s in %s does not continue the chain after %s and no gap explains it; "+
					"is another tailerd writing stream %s? Stop it, then run `replayer verify`", ErrStoreMismatch, t.stream, name, t.store, head.Name, t.stream)
			}
			if err := t.ckpt.RecordGap(t.stream, g); err != nil {
				return segment.Info{}, false, err
			}
		}
		if err := t.ckpt.Commit(info); err != nil {
			return segment.Info{}, false, fmt.Errorf("adopt segment %s: %w", name, err)
		}
		t.log.Info().Str("segment", name).Msg("adopted a segment the store holds beyond the checkpoint (written before a crash)")
		head, has = info, true
	}
	return head, has, nil
}

func (t *Tailer) verifyStored(ctx context.Context, name string) (segment.Info, error) {
	rc, err := t.store.OpenSegment(ctx, t.stream, name)
	if err != nil {
		return segment.Info{}, fmt.Errorf("open %s/%s in %s: %w", t.stream, name, t.store, err)
	}
	defer rc.Close()
	info, err := segment.VerifyWith(rc, name, t.cfg.readOptions())
	if errors.Is(err, segment.ErrKeyRequired) || errors.Is(err, segment.ErrWrongKey) {
		// Intact as far as anyone can tell, but not readable with the keys
		// given: the remedy is the key, not moving the segment away.
		return segment.Info{}, fmt.Errorf("store %s holds segment %s/%s beyond the checkpoint, which tailerd must read to adopt it: %w",
			t.store, t.stream, name, err)
	}
	if err != nil {
		return segment.Info{}, fmt.Errorf("%w: store %s holds a damaged segment beyond the checkpoint: %w; "+
			"move it out of the store and restart (the oplog will be re-read from the checkpoint)", ErrStoreMismatch, t.store, err)
	}
	return info, nil
}

// gapAfter finds the recorded gap that starts at after.
func gapAfter(gaps []store.Gap, after oplog.Timestamp) (store.Gap, bool) {
	for _, g := range gaps {
		if g.After == after {
			return g, true
		}
	}
	return store.Gap{}, false
}
