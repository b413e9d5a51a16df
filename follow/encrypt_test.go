package follow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tidelog/tidelog/crypt"
	"github.com/tidelog/tidelog/segment"
	"github.com/tidelog/tidelog/snapshot"
	"github.com/tidelog/tidelog/store"
)

// A follower given the keys follows a chain that turns from plaintext to
// encrypted (with RequireEncryption off, as --allow-unencrypted sets it);
// one without them, or one that requires encryption, stops on its first
// read with an error naming the key or the plaintext segment.
func TestFollowEncryptedSegments(t *testing.T) {
	fx := newFixture(t)
	keys, err := crypt.NewKeyring(crypt.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	m := model{}
	fx.put(inserts(t, m, 1, 10)...) // before encryption was turned on
	fx.w = segment.NewWriterWith(stream, segment.WriterOptions{Keys: keys})
	s2 := fx.put(inserts(t, m, 11, 10)...)
	r := fx.start(func(o *Options) { o.Keys = keys })
	fx.waitThrough(r, s2.OpEnd)
	fx.check(m)
	s3 := fx.put(inserts(t, m, 21, 5)...)
	fx.waitThrough(r, s3.OpEnd)
	fx.check(m)
	if _, err := r.stop(t); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		edit func(*Options)
		want error
	}{
		{"no key", func(o *Options) {}, crypt.ErrKeyRequired},
		{"encryption required", func(o *Options) { o.Keys, o.RequireEncryption = keys, true }, crypt.ErrNotEncrypted},
	} {
		other := fx.start(func(o *Options) {
			o.CheckpointDir, o.Drop = filepath.Join(t.TempDir(), "ckpt"), true
			tc.edit(o)
		})
		if _, err := other.wait(t); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	fx.check(m) // neither wrote anything
}

// sealedManifest stores, as snapshot id's manifest, an envelope sealed
// with keys: a snapshot whose manifest only those keys open.
func sealedManifest(t *testing.T, st store.Store, id string, keys *crypt.Keyring) {
	t.Helper()
	var b bytes.Buffer
	w, err := crypt.NewWriter(&b, keys, "snapshot/"+stream+"/"+id+"/"+snapshot.ManifestName)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("{}")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.PutSnapshotFile(context.Background(), stream, id, snapshot.ManifestName, &b); err != nil {
		t.Fatal(err)
	}
}

// The initial restore goes to the latest position: when the only snapshot
// that reaches past a gap cannot be read (a key not given), it fails with
// the snapshot's key error rather than quietly restore the older history
// before the gap. A horizon (--until) restorable without the snapshot
// restores without it, and the log names the snapshot left out.
func TestInitialRestoreLatestNeedsUnreadableSnapshot(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	keys, err := crypt.NewKeyring(crypt.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	other, err := crypt.NewKeyring(crypt.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	fx.w = segment.NewWriterWith(stream, segment.WriterOptions{Keys: keys})
	m := model{}
	fx.put(inserts(t, m, 1, 10)...)
	if err := fx.st.PutGap(ctx, stream, store.Gap{After: ts(T0, 10), Next: ts(T0, 500), Detected: time.Now(), Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	fx.prev = segment.Link{}
	fx.put(inserts(t, model{}, 500, 10)...)
	id := snapshot.NewID(time.Now(), ts(T0, 502))
	sealedManifest(t, fx.st, id, other)

	r := fx.start(func(o *Options) { o.Keys, o.RequireEncryption = keys, true })
	_, err = r.wait(t)
	if !errors.Is(err, crypt.ErrWrongKey) || !strings.Contains(fmt.Sprint(err), "the latest position needs snapshot "+id) {
		t.Fatalf("initial restore to the latest position without the snapshot's key: %v", err)
	}
	fx.check(model{}) // nothing written

	r = fx.start(func(o *Options) {
		o.Keys, o.RequireEncryption, o.Until = keys, true, ts(T0, 8)
		o.CheckpointDir = filepath.Join(t.TempDir(), "ckpt")
	})
	if res, err := r.wait(t); err != nil || res.Through != ts(T0, 8) {
		t.Fatalf("--until before the gap: %+v, %v", res, err)
	}
	delete(m, 9)
	delete(m, 10)
	fx.check(m)
	if !strings.Contains(fx.log.String(), "snapshot left out of the initial restore's plan") || !strings.Contains(fx.log.String(), id) {
		t.Fatalf("log does not name the snapshot left out:\n%s", fx.log)
	}
}

// A plaintext segment linked to the encrypted one before it needs no key to
// forge. Even with RequireEncryption off (--allow-unencrypted), a follower
// refuses it as damage, whether it follows live or after a restart, also
// once retention pruned the encrypted one; nothing of it is applied.
func TestFollowRefusesPlaintextAfterEncrypted(t *testing.T) {
	fx := newFixture(t)
	keys, err := crypt.NewKeyring(crypt.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	m := model{}
	fx.w = segment.NewWriterWith(stream, segment.WriterOptions{Keys: keys})
	s1 := fx.put(inserts(t, m, 1, 5)...)
	r := fx.start(func(o *Options) { o.Keys = keys })
	fx.waitThrough(r, s1.OpEnd)
	if _, err := r.stop(t); err != nil {
		t.Fatal(err)
	}

	fx.w = segment.NewWriter(stream) // the forger has no key
	forged := fx.put(ins(t, ts(T0, 100), 100, "forged"))
	for _, when := range []string{"after a restart", "again", "with the checkpoint's segment pruned"} {
		if strings.HasPrefix(when, "with") {
			if err := fx.st.DeleteSegment(context.Background(), stream, s1.Name); err != nil {
				t.Fatal(err)
			}
		}
		r = fx.start(func(o *Options) { o.Keys = keys })
		_, err := r.wait(t)
		var ce *ChainError
		if !errors.As(err, &ce) || ce.Segment != forged.Name || !errors.Is(err, segment.ErrCorrupt) || !strings.Contains(err.Error(), "plaintext") {
			t.Fatalf("%s: a plaintext segment after encrypted ones: %v; want a *ChainError naming %s", when, err, forged.Name)
		}
		fx.check(m)
	}
}

// A transaction open across the segment where encryption was turned on
// holds the resume point back into the plaintext prefix: the follower
// re-reads that plaintext segment before the checkpoint's encrypted one.
// It is the stream's history, not a plaintext segment after encrypted
// ones, and is applied (right after the initial restore, and after a
// restart).
func TestFollowRereadsPlaintextBeforeEncryptedCheckpoint(t *testing.T) {
	fx := newFixture(t)
	keys, err := crypt.NewKeyring(crypt.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	m := model{}
	fx.put(append(inserts(t, m, 1, 3), txnPart(t, ts(T0, 4), ts(0, 0), 0, 100))...)
	fx.w = segment.NewWriterWith(stream, segment.WriterOptions{Keys: keys})
	m[5] = "five"
	s2 := fx.put(ins(t, ts(T0, 5), 5, "five"))
	withKeys := func(o *Options) { o.Keys = keys }
	r := fx.start(withKeys)
	fx.waitThrough(r, s2.OpEnd) // the initial restore
	waitPolls(t, r, 2)          // and the first cycle, which re-applies s2 (deleting then inserting 5 on FerretDB)
	fx.check(m)
	if _, err := r.stop(t); err != nil {
		t.Fatal(err)
	}

	s3 := fx.put(txnPart(t, ts(T0, 6), ts(T0, 4), 2, 101))
	m[100], m[101] = "txn", "txn"
	r = fx.start(withKeys)
	fx.waitThrough(r, s3.OpEnd)
	fx.check(m)
	if st := r.f.Status(); st.OpenTxns != 0 || st.ResumePoint != s3.OpEnd.String() {
		t.Errorf("after the commit: %d open transactions, resume point %s; want 0, %s", st.OpenTxns, st.ResumePoint, s3.OpEnd)
	}
}

// Keys are read at the start: a follower without the key of a segment
// that appears while it follows stops with the key error (exit 2 in
// replayer), rather than retry forever.
func TestFollowStopsAtSegmentItHasNoKeyFor(t *testing.T) {
	fx := newFixture(t)
	keys, err := crypt.NewKeyring(crypt.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	m := model{}
	s1 := fx.put(inserts(t, m, 1, 5)...)
	r := fx.start(nil)
	fx.waitThrough(r, s1.OpEnd)
	fx.w = segment.NewWriterWith(stream, segment.WriterOptions{Keys: keys})
	fx.put(inserts(t, model{}, 6, 5)...)
	if _, err := r.wait(t); !errors.Is(err, crypt.ErrKeyRequired) {
		t.Fatalf("an encrypted segment without its key: %v, want ErrKeyRequired", err)
	}
	if st := r.f.Status(); st.Phase != "failed" || st.Applied != s1.OpEnd.String() {
		t.Errorf("status: phase %s, applied %s; want failed, %s", st.Phase, st.Applied, s1.OpEnd)
	}
	fx.check(m)
}

// Re-reading from a resume point before the checkpoint's segment, the
// follower finds that segment again: one that was encrypted and is now
// plaintext is refused even when its end and checksum (a CRC, no proof)
// match what the checkpoint recorded.
func TestFollowRefusesCheckpointSegmentTurnedPlaintext(t *testing.T) {
	fx := newFixture(t)
	m := model{}
	fx.put(inserts(t, m, 1, 3)...)
	s2 := fx.put(txnPart(t, ts(T0, 4), ts(0, 0), 0, 100), ins(t, ts(T0, 5), 5, "five"))
	ck, err := OpenCheckpoint(fx.ckpt, fx.log.Logger())
	if err != nil {
		t.Fatal(err)
	}
	// As committed after applying an encrypted s2 whose transaction is open.
	err = ck.Save(State{Store: fx.st.String(), Stream: stream, Target: "target", Phase: PhaseFollowing,
		Segment: s2.Name, Link: s2.Link(), Encrypted: true, Applied: ts(T0, 3), Through: s2.OpEnd, Committed: time.Now()})
	ck.Close()
	if err != nil {
		t.Fatal(err)
	}
	r := fx.start(nil)
	_, err = r.wait(t)
	var ce *ChainError
	if !errors.As(err, &ce) || ce.Segment != s2.Name || !strings.Contains(err.Error(), "plaintext") {
		t.Fatalf("the checkpoint's encrypted segment read again as plaintext: %v; want a *ChainError naming %s", err, s2.Name)
	}
	fx.check(model{}) // nothing of it applied
}
