package tailer

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tidelog/tidelog/catalog"
	"github.com/tidelog/tidelog/checkpoint"
	"github.com/tidelog/tidelog/crypt"
	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/segment"
	"github.com/tidelog/tidelog/segment/segmenttest"
	"github.com/tidelog/tidelog/store/dirstore"
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

// A plaintext segment linked to an encrypted head needs no key to forge
// (the link is in the head's clear header). tailerd with keys never adopts
// it, whether the checkpoint holds the head or is rebuilt from the store:
// it stops as for a damaged store (ErrStoreMismatch), naming the segment
// and what to do, and the checkpoint's head stays the real one.
func TestReconcileRefusesPlaintextAfterEncrypted(t *testing.T) {
	ctx := context.Background()
	keys, err := crypt.NewKeyring(crypt.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	for _, lostCheckpoint := range []bool{false, true} {
		st, err := dirstore.Open(t.TempDir(), true)
		if err != nil {
			t.Fatal(err)
		}
		ck, err := checkpoint.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		plain := segmenttest.Put(t, st, "rs0", segment.WriterOptions{}, segment.Link{}, oplog.Timestamp{T: 1700000000, I: 1}, 10) // before encryption
		sealed := segmenttest.Put(t, st, "rs0", segment.WriterOptions{Keys: keys}, plain.Link(), oplog.Timestamp{T: 1700000000, I: 11}, 10)
		if !lostCheckpoint {
			for _, info := range []segment.Info{plain, sealed} {
				if err := ck.Commit(info); err != nil {
					t.Fatal(err)
				}
			}
		}
		forged := segmenttest.Put(t, st, "rs0", segment.WriterOptions{}, sealed.Link(), oplog.Timestamp{T: 4000000000, I: 1}, 1)
		tl := New(nil, st, ck, Config{Stream: "rs0", Keys: keys}, zerolog.Nop())
		tl.stream = "rs0"
		head, _, err := tl.reconcile(ctx)
		want := "store and checkpoint disagree: segment rs0/" + forged.Name + " in " + st.String() +
			" is plaintext, but the stream's segments before it are encrypted: plaintext after encrypted segments is forged, or was written by a tailerd without its key, and is never adopted; " +
			"check where it came from, then move it out of the store and restart (capture resumes after "
		if !errors.Is(err, ErrStoreMismatch) || !strings.HasPrefix(fmtErr(err), want) {
			t.Fatalf("lost checkpoint %v: reconcile adopted a forged plaintext segment after an encrypted head: head %s, error %v", lostCheckpoint, head.Name, err)
		}
		if h, has, err := ck.Head("rs0"); err != nil || !has || h.Name != sealed.Name {
			t.Fatalf("lost checkpoint %v: checkpoint head %s (%v, %v); want %s", lostCheckpoint, h.Name, has, err, sealed.Name)
		}
		ck.Close()
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// A tailer without a key over a stream whose newest segment is encrypted
// refuses to start (exit 2 in tailerd, which maps crypt.ErrKeyRequired):
// continuing in plaintext would store the data unencrypted and write
// segments every reader refuses.
func TestKeylessTailerRefusesEncryptedHead(t *testing.T) {
	f := newFixture(t)
	keys, err := crypt.NewKeyring(crypt.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{CutAge: 100 * time.Millisecond, CutBytes: 2048}
	dir := t.TempDir()
	last := f.write(20)
	encrypted := cfg
	encrypted.Keys = keys
	tl, stop := f.run(dir, encrypted)
	waitUntil(t, "the encrypted run stored everything", func() bool { _, d := tl.Progress(); return d == last })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	before, err := f.store.Segments(context.Background(), testserver.ReplicaSet)
	if err != nil {
		t.Fatal(err)
	}

	f.write(5)
	ck, err := checkpoint.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	head, _, err := ck.Head(testserver.ReplicaSet)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	runErr := New(f.client, f.store, ck, cfg, zerolog.Nop()).Run(runCtx)
	want := "the newest segment of stream " + testserver.ReplicaSet + " (" + head.Name + ") is encrypted with key " + keys.Primary().ID().String() +
		" but no key is given: give it (--encryption-key-file or TIDELOG_ENCRYPTION_KEY); tidelog does not turn encryption off"
	if runCtx.Err() != nil || !errors.Is(runErr, crypt.ErrKeyRequired) || fmtErr(runErr) != want {
		t.Fatalf("a keyless tailer over an encrypted head: %v; want at once %q", runErr, want)
	}
	if after, err := f.store.Segments(context.Background(), testserver.ReplicaSet); err != nil || len(after) != len(before) {
		t.Fatalf("segments %v after the keyless run, %v before (%v): want none written", after, before, err)
	}
}

// A stored head segment whose header is damaged stops the start with
// ErrStoreMismatch, a key given or not: capture must not go on after a
// segment restores cannot read without anyone being told.
func TestDamagedHeadHeaderStopsTheStart(t *testing.T) {
	f := newFixture(t)
	keys, err := crypt.NewKeyring(crypt.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{CutAge: 100 * time.Millisecond, Keys: keys}
	last := f.write(5)
	ckDir := t.TempDir()
	tl, stop := f.run(ckDir, cfg)
	waitUntil(t, "the first run stored everything", func() bool { _, d := tl.Progress(); return d == last })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	names, err := f.store.Segments(ctx, testserver.ReplicaSet)
	if err != nil || len(names) == 0 {
		t.Fatalf("segments %v (%v)", names, err)
	}
	head := names[len(names)-1]
	rc, err := f.store.OpenSegment(ctx, testserver.ReplicaSet, head)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	data[0] ^= 0xff // no segment magic
	if err := f.store.PutSegment(ctx, testserver.ReplicaSet, head, data); err != nil {
		t.Fatal(err)
	}

	ck, err := checkpoint.Open(ckDir)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	tl = New(f.client, f.store, ck, cfg, zerolog.Nop())
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- tl.Run(runCtx) }()
	select {
	case err = <-errc:
	case <-time.After(10 * time.Second):
		cancel()
		<-errc
		t.Fatal("capture started after a head segment whose header is damaged")
	}
	if !errors.Is(err, ErrStoreMismatch) || !strings.Contains(err.Error(), head) {
		t.Fatalf("Run returned %v, want ErrStoreMismatch naming %s", err, head)
	}
}
