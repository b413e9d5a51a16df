package follow

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/segment"
)

// A plaintext header is only CRC-checked, so a forged one can claim any
// count and raw size. decode must report the segment as corrupt, not
// allocate what the header claims (2^62 bytes: a panic).
func TestDecodeRefusesHostileRawSize(t *testing.T) {
	w := segment.NewWriter("rs0")
	w.Start(segment.Link{})
	for _, ts := range []bson.Timestamp{{T: 1, I: 1}, {T: 100, I: 1}} {
		e, err := bson.Marshal(bson.D{{Key: "ts", Value: ts}, {Key: "op", Value: "n"}, {Key: "ns", Value: ""}, {Key: "o", Value: bson.D{}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	_, out, err := w.Finish()
	if err != nil {
		t.Fatal(err)
	}
	data := append([]byte(nil), out...)
	// Offsets and CRCs as docs/segment-format.md gives them.
	crc := func(b []byte) uint32 { return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)) }
	h := int(binary.LittleEndian.Uint32(data[12:]))
	binary.LittleEndian.PutUint64(data[32:], 1<<38) // count
	binary.LittleEndian.PutUint64(data[40:], 1<<62) // raw size
	binary.LittleEndian.PutUint32(data[h-4:], crc(data[:h-4]))
	binary.LittleEndian.PutUint32(data[len(data)-4:], crc(data[:len(data)-4]))

	_, err = decode(data, segment.Name(oplog.Timestamp{T: 1, I: 1}, oplog.Timestamp{T: 100, I: 1}), segment.ReaderOptions{})
	if !errors.Is(err, segment.ErrCorrupt) {
		t.Fatalf("a header claiming 2^62 raw bytes: %v; want corruption", err)
	}
}
