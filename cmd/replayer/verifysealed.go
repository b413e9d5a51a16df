package main

import (
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/tidelog/tidelog/catalog"
	"github.com/tidelog/tidelog/crypt"
	"github.com/tidelog/tidelog/snapshot"
)

// sealedTally is what verify could not decrypt, in a stream or the whole
// store: segments checked without their key (structure and chain only),
// and snapshots not verified at all (their manifest is encrypted). Within a
// run either no key was given (missing: a notice, verify still passes) or
// keys were, and these objects need others (wrong: bad usage).
type sealedTally struct {
	segs   map[crypt.KeyID]int // segments left sealed, by key
	keys   []crypt.KeyID       // the keys of segs, in order of first use
	unread uint64              // entries of those segments, not decoded
	snaps  []sealedSnapshot
	wrong  int // objects sealed although keys were given
}

type sealedSnapshot struct {
	id  string
	key crypt.KeyID
}

// segment counts c if it stayed sealed.
func (t *sealedTally) segment(c catalog.Checked) {
	if c.Sealed == nil {
		return
	}
	t.count(keyOf(c.Sealed, c.Info.KeyID), 1)
	t.unread += c.Info.Count
	if errors.Is(c.Sealed, crypt.ErrWrongKey) {
		t.wrong++
	}
}

// snapshot counts u if a key is what it lacks; false for other reasons
// (a plaintext snapshot where encryption is required), which are problems.
func (t *sealedTally) snapshot(u snapshot.Unreadable) bool {
	if !errKeyLike(u.Err) {
		return false
	}
	t.snaps = append(t.snaps, sealedSnapshot{id: u.ID, key: keyOf(u.Err, crypt.KeyID{})})
	if errors.Is(u.Err, crypt.ErrWrongKey) {
		t.wrong++
	}
	return true
}

// keyOf is the key id a key error names, else def.
func keyOf(err error, def crypt.KeyID) crypt.KeyID {
	var ke *crypt.KeyError
	if errors.As(err, &ke) {
		return ke.KeyID
	}
	return def
}

// count adds n sealed segments of key id.
func (t *sealedTally) count(id crypt.KeyID, n int) {
	if t.segs == nil {
		t.segs = map[crypt.KeyID]int{}
	}
	if _, seen := t.segs[id]; !seen {
		t.keys = append(t.keys, id)
	}
	t.segs[id] += n
}

func (t *sealedTally) add(o sealedTally) {
	for _, id := range o.keys {
		t.count(id, o.segs[id])
	}
	t.snaps = append(t.snaps, o.snaps...)
	t.unread += o.unread
	t.wrong += o.wrong
}

// entries says how many of total entries verify counted, and how many of
// them it could not decode: "120 entries (80 not decrypted)". The header
// of a sealed segment gives its count, but only decoding proves it.
func (t *sealedTally) entries(total uint64) string {
	if t.unread == 0 {
		return fmt.Sprintf("%d entries", total)
	}
	return fmt.Sprintf("%d entries (%d not decrypted)", total, t.unread)
}

func (t *sealedTally) segments() int {
	n := 0
	for _, c := range t.segs {
		n += c
	}
	return n
}

// ids are the keys of every sealed object: those of the segments in the
// order the chain first uses them (the oldest key first), then those only
// snapshots use.
func (t *sealedTally) ids() []crypt.KeyID {
	ids := slices.Clone(t.keys)
	for _, s := range t.snaps {
		if !slices.Contains(ids, s.key) {
			ids = append(ids, s.key)
		}
	}
	return ids
}

// print reports a stream's sealed objects, one line for its segments and
// one per snapshot.
func (t *sealedTally) print(w io.Writer, stream string) {
	which := ""
	if t.wrong > 0 {
		which = ", which is not among the keys given"
	}
	if n := t.segments(); n > 0 {
		advice := " (give the key to verify them)"
		if t.wrong > 0 {
			advice = ""
		}
		fmt.Fprintf(w, "%s: %d segments encrypted with key(s) %s%s: structure and chain verified, contents not decrypted%s\n",
			stream, n, crypt.IDList(t.keys), which, advice)
	}
	for _, s := range t.snaps {
		advice := " (give the key to verify it)"
		if t.wrong > 0 {
			advice = ""
		}
		fmt.Fprintf(w, "%s: snapshot %s encrypted with key %s%s: not verified%s\n", stream, s.id, s.key, which, advice)
	}
}

// notice ends a passing verify that could not decrypt everything: it
// checked all it could without the key and found nothing wrong, but the
// contents are unproven.
func (t *sealedTally) notice(w io.Writer) {
	segs, snaps := t.segments(), len(t.snaps)
	if segs == 0 && snaps == 0 {
		return
	}
	fmt.Fprintf(w, "NOTICE: %d encrypted segments and %d encrypted snapshots were checked without their key (%s): the segments' structure and chain are verified, "+
		"their contents and the snapshots are not; give the key (--encryption-key-file FILE or %s) to verify everything\n",
		segs, snaps, crypt.IDList(t.ids()), crypt.EnvVar)
}

// wrongWhat says what the wrong-key error is about: "3 segments and 1
// snapshot are".
func (t *sealedTally) wrongWhat() string {
	segs, snaps := t.segments(), len(t.snaps)
	switch {
	case snaps == 0:
		return fmt.Sprintf("%d segments are", segs)
	case segs == 0:
		return fmt.Sprintf("%d snapshots are", snaps)
	}
	return fmt.Sprintf("%d segments and %d snapshots are", segs, snaps)
}
