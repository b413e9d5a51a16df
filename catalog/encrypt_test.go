package catalog

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/crypt"
	"github.com/tidelog/tidelog/crypt/crypttest"
	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/segment"
	"github.com/tidelog/tidelog/segment/segmenttest"
	"github.com/tidelog/tidelog/store"
	"github.com/tidelog/tidelog/store/dirstore"
)

// encryptedChain stores a chain of three segments of rs0: the first
// plaintext (written before encryption was turned on), the others
// encrypted with keys.
func encryptedChain(t *testing.T, keys *crypt.Keyring) (*dirstore.Store, *Stream) {
	t.Helper()
	st := testStore(t)
	var prev segment.Link
	for s := range uint32(3) {
		kr := keys
		if s == 0 {
			kr = nil
		}
		prev = appendSegment(t, st, kr, prev, 1+40*s, 40).Link()
	}
	s, err := LoadStream(context.Background(), st, "rs0")
	if err != nil {
		t.Fatal(err)
	}
	return st, s
}

// Without the key, Verify checks the structure and chain of encrypted
// segments and says they stayed sealed; with it, everything; with another
// key, the structure again, naming the key needed.
func TestVerifyEncrypted(t *testing.T) {
	ctx := context.Background()
	keys, other := crypttest.Ring(t), crypttest.Ring(t)
	st, s := encryptedChain(t, keys)
	for _, tc := range []struct {
		name   string
		opts   segment.ReaderOptions
		sealed error // of the encrypted segments; nil: decrypted
	}{
		{"no key", segment.ReaderOptions{}, segment.ErrKeyRequired},
		{"key", segment.ReaderOptions{Keys: keys}, nil},
		{"wrong key", segment.ReaderOptions{Keys: other}, segment.ErrWrongKey},
	} {
		var checked []Checked
		problems := VerifyWith(ctx, st, s, tc.opts, func(c Checked) { checked = append(checked, c) })
		if len(problems) != 0 || len(checked) != 3 {
			t.Fatalf("%s: problems %v, %d checked; want none and 3", tc.name, problems, len(checked))
		}
		if checked[0].Sealed != nil || checked[0].Info.Encrypted {
			t.Errorf("%s: the plaintext segment: %+v", tc.name, checked[0])
		}
		for _, c := range checked[1:] {
			if !c.Info.Encrypted || c.Info.KeyID != keys.Primary().ID() || !errors.Is(c.Sealed, tc.sealed) || (tc.sealed == nil) != (c.Sealed == nil) {
				t.Errorf("%s: segment %s: encrypted %v key %s sealed %v; want key %s sealed %v", tc.name, c.Info.Name, c.Info.Encrypted, c.Info.KeyID, c.Sealed, keys.Primary().ID(), tc.sealed)
			}
		}
	}

	// Required encryption refuses the plaintext segment, naming it.
	problems := VerifyWith(ctx, st, s, segment.ReaderOptions{Keys: keys, RequireEncryption: true}, nil)
	if len(problems) != 1 || problems[0].Segment != s.Segments[0].Name || !errors.Is(problems[0].Err, segment.ErrNotEncrypted) {
		t.Fatalf("plaintext segment where encryption is required: %v", problems)
	}

	// Reading needs the key, and says which.
	err := ReadWith(ctx, st, "rs0", s.Segments, segment.ReaderOptions{}, func(bson.Raw) error { return nil })
	var ke *crypt.KeyError
	if !errors.Is(err, segment.ErrKeyRequired) || !errors.As(err, &ke) || ke.KeyID != keys.Primary().ID() {
		t.Fatalf("read without the key: %v", err)
	}
	n := 0
	if err := ReadWith(ctx, st, "rs0", s.Segments, segment.ReaderOptions{Keys: keys}, func(bson.Raw) error { n++; return nil }); err != nil || n != 120 {
		t.Fatalf("read with the key: %d entries, %v", n, err)
	}
}

// appendSegment stores a segment of n entries of rs0 from position from,
// linked to prev, encrypted when keys holds a key.
func appendSegment(t *testing.T, st *dirstore.Store, keys *crypt.Keyring, prev segment.Link, from, n uint32) segment.Info {
	t.Helper()
	return segmenttest.Put(t, st, "rs0", segment.WriterOptions{Keys: keys}, prev, oplog.Timestamp{T: 1700000000, I: from}, int(n))
}

func testStore(t *testing.T) *dirstore.Store {
	t.Helper()
	st, err := dirstore.Open(t.TempDir(), true)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// A plaintext segment after encrypted ones needs no key to forge: its link
// to the encrypted head is in that head's clear header. It is an
// unexplained break even where it links and a gap record (which anyone can
// write) claims to explain it, verify reports it whatever the options, and
// no window crosses it; the plaintext prefix of a store that began
// unencrypted stays part of the chain.
func TestPlaintextAfterEncryptedIsBreak(t *testing.T) {
	ctx := context.Background()
	keys := crypttest.Ring(t)
	for _, withGap := range []bool{false, true} {
		st, s := encryptedChain(t, keys) // plaintext, encrypted, encrypted: entries 1..120
		head := s.Segments[2]
		rc, err := st.OpenSegment(ctx, "rs0", head.Name)
		if err != nil {
			t.Fatal(err)
		}
		headInfo, err := segment.VerifyStructure(rc, head.Name) // no key needed to link to it
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		forged := appendSegment(t, st, nil, headInfo.Link(), 121, 10)
		forged2 := appendSegment(t, st, nil, forged.Link(), 131, 10)
		if withGap {
			if err := st.PutGap(ctx, "rs0", store.Gap{After: headInfo.OpEnd, Next: forged.OpStart, Detected: time.Now(), Reason: "forged"}); err != nil {
				t.Fatal(err)
			}
		}
		s, err = LoadStream(ctx, st, "rs0")
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Breaks) != 2 || s.Breaks[0].Before != forged.Name || s.Breaks[1].Before != forged2.Name {
			t.Fatalf("gap %v: breaks %+v; want one before each plaintext segment after the encrypted ones", withGap, s.Breaks)
		}
		for _, b := range s.Breaks {
			if b.Gap != nil || b.Reason != ReasonPlaintextAfterEncrypted {
				t.Fatalf("gap %v: break %+v: want unexplained, reason %q", withGap, b, ReasonPlaintextAfterEncrypted)
			}
		}
		if w, ok := s.Restorable(); !ok || w.To != head.Header.OpEnd || w.Last != 2 {
			t.Fatalf("gap %v: restorable %+v; want through the encrypted head %s", withGap, w, head.Header.OpEnd)
		}
		if from, ok := s.EncryptedFrom(); !ok || from != s.Segments[1].Header.OpStart {
			t.Fatalf("EncryptedFrom %s, %v; want %s", from, ok, s.Segments[1].Header.OpStart)
		}
		for _, opts := range []segment.ReaderOptions{{}, {Keys: keys}} {
			problems := VerifyWith(ctx, st, s, opts, nil)
			if len(problems) != 2 || problems[0].Segment != forged.Name || problems[1].Segment != forged2.Name {
				t.Fatalf("gap %v, keys %v: problems %v; want the two plaintext segments", withGap, opts.Keys != nil, problems)
			}
			want := "rs0/" + forged.Name + ": plaintext segment after encrypted ones: forged, or written by a tailerd without its key (the stream is encrypted since segment " +
				s.Segments[1].Name + "); no restore crosses it: check where it came from, then move it out of the store"
			if !errors.Is(problems[0].Err, segment.ErrCorrupt) || problems[0].String() != want {
				t.Fatalf("problem %q; want %q", problems[0], want)
			}
		}
	}
}
