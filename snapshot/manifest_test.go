package snapshot

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/oplog"
)

// sampleManifest is a small valid manifest: a collection in two files, with
// options and indexes of many BSON types, a view and a timeseries
// collection with its buckets.
func sampleManifest(t testing.TB) *Manifest {
	doc := func(d bson.D) bson.Raw { return mustMarshal(t, d) }
	m := &Manifest{
		Version: FormatVersion, Stream: "rs0", ReplicaSet: "rs0", Server: "MongoDB 7.0.14",
		Start: oplog.Timestamp{T: 1700000000, I: 5}, End: oplog.Timestamp{T: 1700000123, I: 4294967295},
		Taken:    time.Date(2026, 11, 21, 18, 47, 0, 123456789, time.UTC),
		Finished: time.Date(2026, 11, 21, 18, 52, 3, 0, time.UTC),
		Collections: []Collection{
			{NS: "shop.orders", Type: TypeCollection, UUID: "00112233445566778899aabbccddeeff",
				Options: doc(bson.D{{Key: "capped", Value: true}, {Key: "size", Value: int64(1 << 20)}, {Key: "max", Value: int32(100)},
					{Key: "validator", Value: bson.D{{Key: "n", Value: bson.D{{Key: "$gte", Value: 1.5}}}}},
					{Key: "collation", Value: bson.D{{Key: "locale", Value: "fr"}, {Key: "strength", Value: int32(2)}}}}),
				Indexes: []bson.Raw{
					doc(bson.D{{Key: "key", Value: bson.D{{Key: "_id", Value: int32(1)}}}, {Key: "name", Value: "_id_"}}),
					doc(bson.D{{Key: "key", Value: bson.D{{Key: "b", Value: int32(-1)}, {Key: "a", Value: "text"}}}, {Key: "name", Value: "b_a"},
						{Key: "unique", Value: true}, {Key: "expireAfterSeconds", Value: int64(60)},
						{Key: "partialFilterExpression", Value: bson.D{{Key: "d", Value: bson.D{{Key: "$gt", Value: bson.DateTime(1700000000000)}}}}}}),
				},
				Files: []File{
					{Name: fileName(0, 0, "shop.orders"), Docs: 2, RawBytes: 100, StoredBytes: 80, CRC32C: 0xdeadbeef},
					{Name: fileName(0, 1, "shop.orders"), Docs: 1, RawBytes: 50, StoredBytes: 40, CRC32C: 0x00000001},
				}},
			{NS: "shop.recent", Type: TypeView, Options: doc(bson.D{{Key: "viewOn", Value: "orders"},
				{Key: "pipeline", Value: bson.A{bson.D{{Key: "$limit", Value: int64(5)}}}}})},
			{NS: "shop.weather", Type: TypeTimeseries, Options: doc(bson.D{{Key: "timeseries", Value: bson.D{{Key: "timeField", Value: "t"}}}})},
			{NS: "shop.system.buckets.weather", Type: TypeCollection, Options: emptyDoc(),
				Files: []File{{Name: fileName(3, 0, "shop.system.buckets.weather"), Docs: 0, RawBytes: 0, StoredBytes: 15}}},
		},
	}
	m.ID = NewID(m.Taken, m.Start)
	m.sumTotals()
	return m
}

// A manifest survives encoding and decoding exactly, BSON types included,
// and its checksum is the one stored.
func TestManifestRoundTrip(t *testing.T) {
	m := sampleManifest(t)
	data, sum, err := encodeManifest(m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeManifest(data, m.Stream, m.ID)
	if err != nil {
		t.Fatalf("decode: %v\n%s", err, data)
	}
	m.Checksum = sum
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("round trip differs:\n got  %+v\n want %+v", got, m)
	}
	for _, want := range []string{`"start": "1700000000.5"`, `"end": "1700000123.4294967295"`, `"crc32c": "deadbeef"`,
		`"$numberInt": "100"`, `"id": "20261121T184700Z-1700000000.0000000005"`} {
		if !bytes.Contains(data, []byte(want)) {
			t.Errorf("manifest.json lacks %s:\n%s", want, data)
		}
	}
	// Re-encoding the decoded manifest gives the same bytes.
	again, _, err := encodeManifest(got)
	if err != nil || !bytes.Equal(again, data) {
		t.Fatalf("re-encoding differs (%v)", err)
	}
	if m.Docs != 3 || m.Files != 3 || m.Bytes != 150 || m.StoredBytes != 135 {
		t.Fatalf("totals %d docs, %d files, %d bytes, %d stored", m.Docs, m.Files, m.Bytes, m.StoredBytes)
	}
}

// A later version-1 writer may add fields; this reader ignores them and the
// checksum, over the stored bytes, still holds.
func TestManifestUnknownFields(t *testing.T) {
	m := sampleManifest(t)
	data, _, err := encodeManifest(m)
	if err != nil {
		t.Fatal(err)
	}
	body := bytes.Replace(data, []byte(`"version": 1,`), []byte(`"version": 1, "futureField": {"x": [1, 2]},`), 1)
	if bytes.Equal(body, data) {
		t.Fatal("no field added")
	}
	start := bytes.Index(body, []byte(`"manifest": `)) + len(`"manifest": `)
	manifest := body[start : len(body)-len("\n}\n")]
	env := append([]byte(`{"format": "tidelog-snapshot", "checksum": "crc32c:`), []byte(crcHex(manifest))...)
	env = append(append(append(env, `", "manifest": `...), manifest...), '}')
	if _, err := decodeManifest(env, m.Stream, m.ID); err != nil {
		t.Fatalf("manifest with an added field: %v", err)
	}
}

func crcHex(b []byte) string { return fmt.Sprintf("%08x", crc32.Checksum(b, castagnoli)) }

func TestNames(t *testing.T) {
	if got := NewID(time.Date(2026, 11, 21, 18, 47, 0, 999, time.FixedZone("x", 3600)), oplog.Timestamp{T: 1700000000, I: 5}); got != "20261121T174700Z-1700000000.0000000005" {
		t.Errorf("NewID: %s", got)
	}
	for _, ns := range []string{"shop.orders", "db.odd name$é.x", "db." + strings.Repeat("Ä", 200), "db.a/b\\c"} {
		name := fileName(12, 3, ns)
		if err := checkName("file name", name); err != nil || len(name) > 120 || !strings.HasPrefix(name, "c0012-") || !strings.HasSuffix(name, "-p0003.bson.lz4") {
			t.Errorf("fileName(%q) = %q (%v)", ns, name, err)
		}
	}
	for _, s := range []string{"1700000000", "2026-11-21T18:47:00Z", "1.2.3", ""} {
		if _, err := parsePosition(s); err == nil {
			t.Errorf("parsePosition(%q) accepted a position that is not T.I", s)
		}
	}
	if _, err := decodeManifest([]byte(`{"format":"other","checksum":"crc32c:00000000","manifest":{}}`), "rs0", "x"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("a manifest of another format: %v", err)
	}
}
