package catalog

import (
	"context"
	"errors"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/crypt"
	"github.com/tidelog/tidelog/segment"
	"github.com/tidelog/tidelog/store/dirstore"
)

// encryptedChain stores a chain of three segments of rs0: the first
// plaintext (written before encryption was turned on), the others
// encrypted with keys.
func encryptedChain(t *testing.T, keys *crypt.Keyring) (*dirstore.Store, *Stream) {
	t.Helper()
	ctx := context.Background()
	st, err := dirstore.Open(t.TempDir(), true)
	if err != nil {
		t.Fatal(err)
	}
	var prev segment.Link
	i := uint32(1)
	for s := range 3 {
		opts := segment.WriterOptions{Keys: keys}
		if s == 0 {
			opts = segment.WriterOptions{}
		}
		w := segment.NewWriterWith("rs0", opts)
		w.Start(prev)
		for range 40 {
			e, err := bson.Marshal(bson.D{{Key: "ts", Value: bson.Timestamp{T: 1700000000, I: i}}, {Key: "op", Value: "n"}, {Key: "ns", Value: ""}, {Key: "o", Value: bson.D{}}})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Append(e); err != nil {
				t.Fatal(err)
			}
			i++
		}
		info, data, err := w.Finish()
		if err != nil {
			t.Fatal(err)
		}
		if err := st.PutSegment(ctx, "rs0", info.Name, data); err != nil {
			t.Fatal(err)
		}
		prev = info.Link()
	}
	s, err := LoadStream(ctx, st, "rs0")
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
	keys, err := crypt.NewKeyring(crypt.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	other, err := crypt.NewKeyring(crypt.NewKey())
	if err != nil {
		t.Fatal(err)
	}
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
	err = ReadWith(ctx, st, "rs0", s.Segments, segment.ReaderOptions{}, func(bson.Raw) error { return nil })
	var ke *crypt.KeyError
	if !errors.Is(err, segment.ErrKeyRequired) || !errors.As(err, &ke) || ke.KeyID != keys.Primary().ID() {
		t.Fatalf("read without the key: %v", err)
	}
	n := 0
	if err := ReadWith(ctx, st, "rs0", s.Segments, segment.ReaderOptions{Keys: keys}, func(bson.Raw) error { n++; return nil }); err != nil || n != 120 {
		t.Fatalf("read with the key: %d entries, %v", n, err)
	}
}
