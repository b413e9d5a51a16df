package s3store

import (
	"bytes"
	"context"
	"io"
	"testing"
	"testing/iotest"
)

// Both sources cut the same bytes into the same parts and flag the last
// one, including when the data ends exactly at a part boundary.
func TestPartSources(t *testing.T) {
	ctx := context.Background()
	data := make([]byte, 1000)
	for i := range data {
		data[i] = byte(i)
	}
	for _, n := range []int{0, 1, 99, 100, 101, 250, 300, 1000} {
		for _, mk := range []func([]byte) partSource{
			func(b []byte) partSource { return &sliceParts{data: b} },
			func(b []byte) partSource { return &readerParts{r: iotest.OneByteReader(bytes.NewReader(b))} },
			func(b []byte) partSource { return &readerParts{r: bytes.NewReader(b)} },
		} {
			src := mk(data[:n])
			var got []byte
			parts := 0
			for {
				part, last, err := src.next(ctx, 100)
				if err != nil {
					t.Fatal(err)
				}
				if len(part) > 100 || (!last && len(part) != 100) {
					t.Fatalf("n=%d: part of %d bytes (last %v)", n, len(part), last)
				}
				got = append(got, part...)
				parts++
				if last {
					break
				}
			}
			want := max(1, (n+99)/100)
			if !bytes.Equal(got, data[:n]) || parts != want {
				t.Fatalf("n=%d %T: %d parts, %d bytes; want %d parts, %d bytes", n, src, parts, len(got), want, n)
			}
		}
	}
	// A reader's error is returned, not taken for the end.
	src := &readerParts{r: io.MultiReader(bytes.NewReader(data[:150]), iotest.ErrReader(io.ErrClosedPipe))}
	if _, _, err := src.next(ctx, 100); err != nil {
		t.Fatal(err)
	}
	if _, _, err := src.next(ctx, 100); err != io.ErrClosedPipe {
		t.Fatalf("second part: %v, want the reader's error", err)
	}
}

// Parts double every 1000 up to S3's largest part.
func TestPartSizeFor(t *testing.T) {
	s := &Store{partSize: MinPartSize}
	for n, want := range map[int]int64{1: MinPartSize, 1000: MinPartSize, 1001: 2 * MinPartSize, 3500: 8 * MinPartSize, 10000: 512 * MinPartSize} {
		if got := s.partSizeFor(n); got != want {
			t.Errorf("partSizeFor(%d) = %d, want %d", n, got, want)
		}
	}
	s.partSize = 4 << 30
	if got := s.partSizeFor(5000); got != maxPartSize {
		t.Errorf("partSizeFor(5000) at 4 GiB = %d, want the cap", got)
	}
}
