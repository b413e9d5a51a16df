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
// refuses it as damage, whether it follows live or after a restart; nothing
// of it is applied.
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
	for _, when := range []string{"after a restart", "again"} {
		r = fx.start(func(o *Options) { o.Keys = keys })
		_, err := r.wait(t)
		var ce *ChainError
		if !errors.As(err, &ce) || ce.Segment != forged.Name || !errors.Is(err, segment.ErrCorrupt) || !strings.Contains(err.Error(), "plaintext") {
			t.Fatalf("%s: a plaintext segment after encrypted ones: %v; want a *ChainError naming %s", when, err, forged.Name)
		}
		fx.check(m)
	}
}
