package dump

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzArchive feeds arbitrary bytes to the archive reader: it must never
// panic, every failure must be a *ReadError, and a success must have read
// a stream whose every namespace was closed.
func FuzzArchive(f *testing.F) {
	raw := readFile(f, archiveFixture(f))
	f.Add(raw)
	f.Add(gzipBytes(f, raw))
	f.Add(raw[:0x240])                                   // the prelude alone
	f.Add([]byte{0x6d, 0xe2, 0x99, 0x81, 5, 0, 0, 0, 0}) // magic, empty header, no terminator
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := OpenArchive(bytes.NewReader(data))
		if err == nil {
			for n := 0; ; n++ {
				ns, doc, nerr := a.Next()
				if nerr != nil {
					err = nerr
					break
				}
				if len(doc) < 5 || ns.Collection == "" {
					t.Fatalf("document %d: %q in %v", n, doc, ns)
				}
			}
		}
		if errors.Is(err, io.EOF) {
			return // complete
		}
		var re *ReadError
		if !errors.As(err, &re) {
			t.Fatalf("error %v (%T) is not a *ReadError", err, err)
		}
		if re.Offset < 0 || re.Offset > int64(len(data))*1100+4096 { // gzip can expand ~1000x
			t.Fatalf("offset %d out of range: %v", re.Offset, err)
		}
	})
}
