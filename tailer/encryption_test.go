package tailer

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tidelog/tidelog/catalog"
	"github.com/tidelog/tidelog/checkpoint"
	"github.com/tidelog/tidelog/crypt"
	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/segment"
)

// A chain may go from plaintext to encrypted: a tailer given a key
// continues the plaintext chain (reading its segments back to rebuild a
// lost checkpoint) with encrypted segments. One without the key that must
// read an encrypted segment stops with an error naming the key.
func TestChainFromPlaintextToEncrypted(t *testing.T) {
	f := newFixture(t)
	keys, err := crypt.NewKeyring(crypt.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{CutAge: 100 * time.Millisecond, CutBytes: 2048}
	first := f.write(30)
	tl, stop := f.run(t.TempDir(), cfg)
	waitUntil(t, "the plaintext run stored everything", func() bool { _, d := tl.Progress(); return d == first })
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	second := f.write(30)
	encrypted := cfg
	encrypted.Keys = keys
	tl, stop = f.run(t.TempDir(), encrypted) // a lost checkpoint: rebuilt from the plaintext segments
	waitUntil(t, "the encrypted run stored everything", func() bool { _, d := tl.Progress(); return d == second })
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	s, err := catalog.LoadStream(ctx, f.store, testserver.ReplicaSet)
	if err != nil {
		t.Fatal(err)
	}
	plain, sealed := 0, 0
	for _, seg := range s.Segments {
		switch h := seg.Header; {
		case !h.Encrypted && !h.OpStart.After(first):
			plain++
		case h.Encrypted && h.KeyID == keys.Primary().ID() && h.OpStart.After(first):
			sealed++
		default:
			t.Errorf("segment %s: encrypted %v with key %s; want plaintext through %s, encrypted with %s after", seg.Name, h.Encrypted, h.KeyID, first, keys.Primary().ID())
		}
	}
	if plain == 0 || sealed == 0 {
		t.Fatalf("%d plaintext and %d encrypted segments: want both", plain, sealed)
	}
	if problems := catalog.VerifyWith(ctx, f.store, s, segment.ReaderOptions{Keys: keys}, nil); len(problems) != 0 {
		t.Fatalf("verify with the key: %v", problems)
	}
	if w, _ := s.Restorable(); len(s.Windows) != 1 || w.Entries != 60 || w.To != second {
		t.Fatalf("windows %+v: want one chain of 60 entries through %s", s.Windows, second)
	}

	// Without the key, rebuilding a lost checkpoint cannot read the
	// encrypted segments: capture stops at once, naming the key.
	ck, err := checkpoint.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	runCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	runErr := New(f.client, f.store, ck, cfg, zerolog.Nop()).Run(runCtx)
	var ke *crypt.KeyError
	if runCtx.Err() != nil || !errors.Is(runErr, segment.ErrKeyRequired) || !errors.As(runErr, &ke) || ke.KeyID != keys.Primary().ID() {
		t.Fatalf("a tailer without the key over encrypted segments: %v (want an error naming key %s at once)", runErr, keys.Primary().ID())
	}
	if head, has, err := ck.Head(testserver.ReplicaSet); err != nil || has && head.OpEnd.After(first) {
		t.Fatalf("the keyless tailer adopted encrypted segments: head %+v, %v", head, err)
	}
}
