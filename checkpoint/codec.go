package checkpoint

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/segment"
	"github.com/tidelog/tidelog/store"
)

// Every value is sealed as
//
//	version (1 byte) | payload | CRC-32C of version and payload (4 bytes, big-endian)
//
// Pebble checksums its own blocks, but a value written by a buggy or older
// build, or damaged where Pebble does not look, must still be detected on read
// rather than trusted: open returns an error wrapping ErrCorrupt for any value
// whose checksum, version or length is wrong. Payloads are fixed binary
// layouts (below); a change of layout takes a new valueVersion.
const valueVersion = 1

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// seal frames payload as a value.
func seal(payload []byte) []byte {
	v := make([]byte, 0, 1+len(payload)+4)
	v = append(v, valueVersion)
	v = append(v, payload...)
	return binary.BigEndian.AppendUint32(v, crc32.Checksum(v, castagnoli))
}

// unseal checks a value read under key and returns its payload.
func unseal(key, v []byte) ([]byte, error) {
	if len(v) < 5 {
		return nil, corruptValue(key, fmt.Sprintf("value of %d bytes is too short", len(v)))
	}
	body, sum := v[:len(v)-4], binary.BigEndian.Uint32(v[len(v)-4:])
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return nil, corruptValue(key, fmt.Sprintf("checksum mismatch (stored %08x, computed %08x)", sum, got))
	}
	if body[0] != valueVersion {
		return nil, corruptValue(key, fmt.Sprintf("value version %d, this tidelog reads %d", body[0], valueVersion))
	}
	return body[1:], nil
}

func corruptValue(key []byte, detail string) error {
	return fmt.Errorf("key %q: %w: %s", key, ErrCorrupt, detail)
}

// Info payload:
//
//	Name, Stream               uvarint length + bytes
//	OpStart, OpEnd             uint64 (oplog.Timestamp.Uint64)
//	Count, RawSize, Size       uvarint
//	Checksum                   uint32
//	Prev.OpEnd, Prev.Checksum  uint64, uint32
func encodeInfo(info segment.Info) []byte {
	var b []byte
	b = appendString(b, info.Name)
	b = appendString(b, info.Stream)
	b = binary.BigEndian.AppendUint64(b, info.OpStart.Uint64())
	b = binary.BigEndian.AppendUint64(b, info.OpEnd.Uint64())
	b = binary.AppendUvarint(b, info.Count)
	b = binary.AppendUvarint(b, info.RawSize)
	b = binary.AppendUvarint(b, info.Size)
	b = binary.BigEndian.AppendUint32(b, info.Checksum)
	b = binary.BigEndian.AppendUint64(b, info.Prev.OpEnd.Uint64())
	b = binary.BigEndian.AppendUint32(b, info.Prev.Checksum)
	return seal(b)
}

func decodeInfo(key, v []byte) (segment.Info, error) {
	p, err := unseal(key, v)
	if err != nil {
		return segment.Info{}, err
	}
	r := decoder{b: p}
	info := segment.Info{
		Name:     r.string(),
		Stream:   r.string(),
		OpStart:  oplog.FromUint64(r.uint64()),
		OpEnd:    oplog.FromUint64(r.uint64()),
		Count:    r.uvarint(),
		RawSize:  r.uvarint(),
		Size:     r.uvarint(),
		Checksum: r.uint32(),
		Prev: segment.Link{
			OpEnd:    oplog.FromUint64(r.uint64()),
			Checksum: r.uint32(),
		},
	}
	if err := r.finish(); err != nil {
		return segment.Info{}, corruptValue(key, "segment info: "+err.Error())
	}
	return info, nil
}

// Gap payload:
//
//	After, Next   uint64
//	Detected      uvarint length + time.Time binary form (keeps zero and zone offset)
//	Reason        uvarint length + bytes
//	Late          uint64, only when the gap has one (older values end before it)
func encodeGap(gap store.Gap) ([]byte, error) {
	t, err := gap.Detected.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("gap detected time: %w", err)
	}
	var b []byte
	b = binary.BigEndian.AppendUint64(b, gap.After.Uint64())
	b = binary.BigEndian.AppendUint64(b, gap.Next.Uint64())
	b = appendString(b, string(t))
	b = appendString(b, gap.Reason)
	if gap.Late != nil {
		b = binary.BigEndian.AppendUint64(b, gap.Late.Uint64())
	}
	return seal(b), nil
}

func decodeGap(key, v []byte) (store.Gap, error) {
	p, err := unseal(key, v)
	if err != nil {
		return store.Gap{}, err
	}
	r := decoder{b: p}
	gap := store.Gap{
		After: oplog.FromUint64(r.uint64()),
		Next:  oplog.FromUint64(r.uint64()),
	}
	t := r.string()
	gap.Reason = r.string()
	if len(r.b) > 0 {
		late := oplog.FromUint64(r.uint64())
		gap.Late = &late
	}
	if err := r.finish(); err != nil {
		return store.Gap{}, corruptValue(key, "gap: "+err.Error())
	}
	var detected time.Time
	if err := detected.UnmarshalBinary([]byte(t)); err != nil {
		return store.Gap{}, corruptValue(key, "gap detected time: "+err.Error())
	}
	gap.Detected = detected
	if err := gap.Validate(); err != nil {
		return store.Gap{}, corruptValue(key, err.Error())
	}
	return gap, nil
}

// Format payload: the format version, uint32.
func encodeFormat(version uint32) []byte {
	return seal(binary.BigEndian.AppendUint32(nil, version))
}

func decodeFormat(key, v []byte) (uint32, error) {
	p, err := unseal(key, v)
	if err != nil {
		return 0, err
	}
	r := decoder{b: p}
	version := r.uint32()
	if err := r.finish(); err != nil {
		return 0, corruptValue(key, "format: "+err.Error())
	}
	return version, nil
}

// emptyValue is the value of keys whose presence is the information.
func emptyValue() []byte { return seal(nil) }

func checkEmpty(key, v []byte) error {
	p, err := unseal(key, v)
	if err != nil {
		return err
	}
	if len(p) != 0 {
		return corruptValue(key, fmt.Sprintf("%d unexpected bytes", len(p)))
	}
	return nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decoder reads a payload; the first short read sets err and every later
// read returns zero, so a decode function checks err once, in finish.
type decoder struct {
	b   []byte
	err error
}

var errShort = errors.New("truncated")

func (d *decoder) take(n int) []byte {
	if d.err != nil || n < 0 || n > len(d.b) {
		d.err = errShort
		return nil
	}
	p := d.b[:n]
	d.b = d.b[n:]
	return p
}

func (d *decoder) uint32() uint32 {
	if p := d.take(4); p != nil {
		return binary.BigEndian.Uint32(p)
	}
	return 0
}

func (d *decoder) uint64() uint64 {
	if p := d.take(8); p != nil {
		return binary.BigEndian.Uint64(p)
	}
	return 0
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.err = errShort
		return ""
	}
	return string(d.take(int(n)))
}

// finish reports a short read or trailing bytes.
func (d *decoder) finish() error {
	if d.err != nil {
		return d.err
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%d trailing bytes", len(d.b))
	}
	return nil
}
