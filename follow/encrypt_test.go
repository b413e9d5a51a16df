package follow

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/tidelog/tidelog/crypt"
	"github.com/tidelog/tidelog/segment"
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
