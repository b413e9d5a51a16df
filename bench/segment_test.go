// Package bench holds benchmarks that span packages. Run:
//
//	go test -run='^$' -bench='SegmentPipeline|RawLZ4' -benchmem -count=3 ./bench
//
// SegmentPipeline/plain and SegmentPipeline/encrypted run side by side on
// the same corpus: the cost of encryption is their difference.
package bench

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/pierrec/lz4/v4"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/crypt"
	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/segment"
)

// corpusSize is the raw size of the synthetic oplog both benchmarks use.
const corpusSize = 16 << 20

type corpus struct {
	entries [][]byte // raw oplog entries, ts strictly increasing; windows onto raw
	raw     []byte   // the entries concatenated
	err     error
}

// loadCorpus builds the corpus once per process, so that both benchmarks
// measure the very same bytes.
var loadCorpus = sync.OnceValue(func() corpus {
	es, err := synthOplog(corpusSize)
	if err != nil {
		return corpus{err: err}
	}
	// The entries are windows onto the concatenation, as entries of a
	// driver batch are, so both benchmarks read the very same memory.
	c := corpus{raw: bytes.Join(es, nil)}
	off := 0
	for _, e := range es {
		c.entries = append(c.entries, c.raw[off:off+len(e):off+len(e)])
		off += len(e)
	}
	return c
})

func getCorpus(b *testing.B) corpus {
	b.Helper()
	c := loadCorpus()
	if c.err != nil {
		b.Fatal(c.err)
	}
	return c
}

// synthOplog returns about size bytes of oplog entries shaped like a shop's
// workload: inserts of order documents, $v:2 diff updates of their status
// and deletes, over a few collections, with varied values so that lz4 sees
// the repetition of real oplogs (field names, namespaces, UUIDs) but not
// runs of zeros.
func synthOplog(size int) ([][]byte, error) {
	rng := rand.New(rand.NewPCG(2026, 11))
	type coll struct {
		ns string
		ui bson.Binary
	}
	var colls []coll
	for _, ns := range []string{"shop.orders", "shop.customers", "shop.inventory", "audit.events"} {
		u := make([]byte, 16)
		for k := range u {
			u[k] = byte(rng.Uint32())
		}
		colls = append(colls, coll{ns, bson.Binary{Subtype: 4, Data: u}})
	}
	first := []string{"Ada", "Grace", "Linus", "Barbara", "Ken", "Margaret", "Dennis", "Frances", "Edsger", "Radia"}
	last := []string{"Lovelace", "Hopper", "Torvalds", "Liskov", "Thompson", "Hamilton", "Ritchie", "Allen", "Dijkstra", "Perlman"}
	cities := []string{"Lisbon", "Osaka", "Quito", "Tromsø", "Nairobi", "Austin", "Hobart", "Lyon"}
	skus := []string{"SKU-RED-S", "SKU-RED-M", "SKU-BLU-L", "SKU-GRN-XL", "SKU-BLK-M", "SKU-WHT-S"}
	statuses := []string{"new", "paid", "packed", "shipped", "delivered", "returned"}

	var ids []bson.ObjectID
	newID := func() bson.ObjectID {
		var id bson.ObjectID
		for k := range id {
			id[k] = byte(rng.Uint32())
		}
		ids = append(ids, id)
		return id
	}
	ts := oplog.Timestamp{T: 1_760_000_000, I: 0}
	var out [][]byte
	total := 0
	for total < size {
		if rng.IntN(3) == 0 {
			ts = oplog.Timestamp{T: ts.T + 1, I: 1}
		} else {
			ts.I++
		}
		c := colls[rng.IntN(len(colls))]
		wall := bson.DateTime(int64(ts.T)*1000 + int64(rng.IntN(1000)))
		var op string
		var o, o2 bson.D
		switch k := rng.IntN(10); {
		case k < 6 || len(ids) < 10: // insert
			op = "i"
			items := bson.A{}
			for range 1 + rng.IntN(4) {
				items = append(items, bson.D{
					{Key: "sku", Value: skus[rng.IntN(len(skus))]},
					{Key: "qty", Value: int32(1 + rng.IntN(5))},
					{Key: "price", Value: float64(rng.IntN(20000)) / 100},
				})
			}
			name := first[rng.IntN(len(first))] + " " + last[rng.IntN(len(last))]
			o = bson.D{
				{Key: "_id", Value: newID()},
				{Key: "customer", Value: bson.D{
					{Key: "name", Value: name},
					{Key: "email", Value: fmt.Sprintf("user%d@example.com", rng.IntN(1_000_000))},
					{Key: "city", Value: cities[rng.IntN(len(cities))]},
				}},
				{Key: "items", Value: items},
				{Key: "status", Value: "new"},
				{Key: "total", Value: float64(rng.IntN(100000)) / 100},
				{Key: "createdAt", Value: wall},
				{Key: "note", Value: fmt.Sprintf("order %x via %s", rng.Uint64(), []string{"web", "app", "phone"}[rng.IntN(3)])},
			}
		case k < 9: // update, as MongoDB 5+ logs it
			op = "u"
			o = bson.D{
				{Key: "$v", Value: int32(2)},
				{Key: "diff", Value: bson.D{{Key: "u", Value: bson.D{
					{Key: "status", Value: statuses[rng.IntN(len(statuses))]},
					{Key: "updatedAt", Value: wall},
				}}}},
			}
			o2 = bson.D{{Key: "_id", Value: ids[rng.IntN(len(ids))]}}
		default: // delete
			op = "d"
			o = bson.D{{Key: "_id", Value: ids[rng.IntN(len(ids))]}}
		}
		doc := bson.D{
			{Key: "op", Value: op},
			{Key: "ns", Value: c.ns},
			{Key: "ui", Value: c.ui},
			{Key: "o", Value: o},
		}
		if o2 != nil {
			doc = append(doc, bson.E{Key: "o2", Value: o2})
		}
		doc = append(doc,
			bson.E{Key: "ts", Value: bson.Timestamp{T: ts.T, I: ts.I}},
			bson.E{Key: "t", Value: int64(3)},
			bson.E{Key: "v", Value: int64(2)},
			bson.E{Key: "wall", Value: wall},
		)
		b, err := bson.Marshal(doc)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
		total += len(b)
	}
	return out, nil
}

// mallocs returns the process's cumulative heap allocation count.
func mallocs() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs
}

// BenchmarkSegmentPipeline is the whole life of one segment: Append every
// entry, Finish, write the file, then open it and read every entry back
// with full verification; plain, then encrypted (AES-256-GCM, one key), on
// the same corpus in the same run. Besides the totals it reports the time
// of each stage per op (write-ms: Append and Finish; file-ms: WriteFile and
// Open; read-ms: Reader) and the write and read stages' throughput over the
// raw bytes (write-MB/s, read-MB/s), to show where the time goes.
func BenchmarkSegmentPipeline(b *testing.B) {
	key := crypt.NewKey()
	keys, err := crypt.NewKeyring(key)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("plain", func(b *testing.B) { segmentPipeline(b, segment.WriterOptions{}, segment.ReaderOptions{}) })
	b.Run("encrypted", func(b *testing.B) {
		segmentPipeline(b, segment.WriterOptions{Keys: keys}, segment.ReaderOptions{Keys: keys, RequireEncryption: true})
	})
}

func segmentPipeline(b *testing.B, wopts segment.WriterOptions, ropts segment.ReaderOptions) {
	c := getCorpus(b)
	path := filepath.Join(b.TempDir(), "segment.tseg")
	w := segment.NewWriterWith("rs0", wopts)
	var size int
	var tWrite, tFile, tRead time.Duration
	b.SetBytes(int64(len(c.raw)))
	b.ReportAllocs()
	iters := 0
	m0 := mallocs()
	for b.Loop() {
		t0 := time.Now()
		w.Start(segment.Link{})
		for _, e := range c.entries {
			if err := w.Append(e); err != nil {
				b.Fatal(err)
			}
		}
		info, data, err := w.Finish()
		if err != nil {
			b.Fatal(err)
		}
		if info.Encrypted != (wopts.Keys != nil) {
			b.Fatalf("segment encrypted: %v", info.Encrypted)
		}
		size = len(data)
		t1 := time.Now()
		if err := os.WriteFile(path, data, 0o644); err != nil {
			b.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		r, err := segment.NewReaderWith(f, info.Name, ropts)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			if _, err := r.Next(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
			n++
		}
		f.Close()
		if n != len(c.entries) {
			b.Fatalf("read %d entries, wrote %d", n, len(c.entries))
		}
		t3 := time.Now()
		tWrite += t1.Sub(t0)
		tFile += t2.Sub(t1)
		tRead += t3.Sub(t2)
		iters++
	}
	b.ReportMetric(float64(mallocs()-m0)/float64(iters*len(c.entries)), "allocs/entry")
	b.ReportMetric(float64(len(c.raw))/float64(size), "ratio")
	ms := func(d time.Duration) float64 { return d.Seconds() * 1000 / float64(iters) }
	mbs := func(d time.Duration) float64 { return float64(len(c.raw)) * float64(iters) / 1e6 / d.Seconds() }
	b.ReportMetric(ms(tWrite), "write-ms/op")
	b.ReportMetric(ms(tFile), "file-ms/op")
	b.ReportMetric(ms(tRead), "read-ms/op")
	b.ReportMetric(mbs(tWrite), "write-MB/s")
	b.ReportMetric(mbs(tRead), "read-MB/s")
}

// BenchmarkRawLZ4 is the baseline: the same bytes, concatenated, through an
// lz4 frame writer with the segment writer's options, into memory.
func BenchmarkRawLZ4(b *testing.B) {
	c := getCorpus(b)
	zw := lz4.NewWriter(nil)
	if err := zw.Apply(segment.LZ4Options()...); err != nil {
		b.Fatal(err)
	}
	var out bytes.Buffer
	b.SetBytes(int64(len(c.raw)))
	b.ReportAllocs()
	iters := 0
	m0 := mallocs()
	for b.Loop() {
		out.Reset()
		zw.Reset(&out)
		if _, err := zw.Write(c.raw); err != nil {
			b.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			b.Fatal(err)
		}
		iters++
	}
	b.ReportMetric(float64(mallocs()-m0)/float64(iters*len(c.entries)), "allocs/entry")
	b.ReportMetric(float64(len(c.raw))/float64(out.Len()), "ratio")
}
