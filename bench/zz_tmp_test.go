package bench

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/pierrec/lz4/v4"
	"github.com/tidelog/tidelog/oplog"
	"hash/crc32"
	"github.com/tidelog/tidelog/segment"
)

func BenchmarkTmpAppend(b *testing.B) {
	c := getCorpus(b)
	w := segment.NewWriter("rs0")
	b.SetBytes(int64(len(c.raw)))
	for b.Loop() {
		w.Start(segment.Link{})
		for _, e := range c.entries {
			w.Append(e)
		}
		w.Finish()
	}
}

func BenchmarkTmpRead(b *testing.B) {
	c := getCorpus(b)
	w := segment.NewWriter("rs0")
	for _, e := range c.entries {
		w.Append(e)
	}
	info, data, _ := w.Finish()
	b.SetBytes(int64(len(c.raw)))
	for b.Loop() {
		r, _ := segment.NewReader(bytes.NewReader(data), info.Name)
		for {
			if _, err := r.Next(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkTmpFile(b *testing.B) {
	c := getCorpus(b)
	w := segment.NewWriter("rs0")
	for _, e := range c.entries {
		w.Append(e)
	}
	_, data, _ := w.Finish()
	path := filepath.Join(b.TempDir(), "x")
	b.SetBytes(int64(len(c.raw)))
	for b.Loop() {
		os.WriteFile(path, data, 0o644)
		f, _ := os.Open(path)
		io.Copy(io.Discard, f)
		f.Close()
	}
}

func TestTmpStats(t *testing.T) {
	c, _ := synthOplog(corpusSize)
	n := 0
	for _, e := range c {
		n += len(e)
	}
	t.Logf("%d entries, avg %d bytes", len(c), n/len(c))
}

func BenchmarkTmpAppendConcat(b *testing.B) {
	c := getCorpus(b)
	w := segment.NewWriter("rs0")
	_ = w
	b.SetBytes(int64(len(c.raw)))
	zw := lz4New()
	var out bytes.Buffer
	for b.Loop() {
		out.Reset()
		zw.Reset(&out)
		for _, e := range c.entries {
			zw.Write(e)
		}
		zw.Close()
	}
}

func lz4New() *lz4.Writer {
	zw := lz4.NewWriter(nil)
	zw.Apply(segment.LZ4Options()...)
	return zw
}

func BenchmarkTmpEntryTS(b *testing.B) {
	c := getCorpus(b)
	b.SetBytes(int64(len(c.raw)))
	for b.Loop() {
		for _, e := range c.entries {
			if _, err := oplog.EntryTS(e); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkTmpCRC(b *testing.B) {
	c := getCorpus(b)
	b.SetBytes(int64(len(c.raw)))
	tab := crc32.MakeTable(crc32.Castagnoli)
	for b.Loop() {
		crc32.Update(0, tab, c.raw)
	}
}
