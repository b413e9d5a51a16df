package snapshot

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
	"unicode/utf8"
)

// manifestFormat names the envelope, so that a manifest.json is never
// mistaken for some other JSON file.
const manifestFormat = "tidelog-snapshot"

// envelope is manifest.json as stored:
//
//	{
//	"format": "tidelog-snapshot",
//	"checksum": "crc32c:1a2b3c4d",
//	"manifest": { ... }
//	}
//
// The checksum covers the exact bytes of the "manifest" value as they stand
// in the file. Checksumming stored bytes, rather than a re-encoding of the
// decoded manifest, needs no canonical JSON and lets a later version-1
// writer add fields that older readers ignore without breaking the check.
type envelope struct {
	Format   string          `json:"format"`
	Checksum string          `json:"checksum"`
	Manifest json.RawMessage `json:"manifest"`
}

// encodeManifest renders m as manifest.json and returns the bytes and the
// checksum of its manifest part.
func encodeManifest(m *Manifest) ([]byte, uint32, error) {
	w, err := m.toJSON()
	if err != nil {
		return nil, 0, err
	}
	body, err := json.MarshalIndent(w, "", "  ")
	if err != nil {
		return nil, 0, err
	}
	if !utf8.Valid(body) {
		// Readers refuse such a manifest; fail the snapshot now, loudly.
		return nil, 0, fmt.Errorf("manifest of snapshot %s/%s: a collection's options or index specs hold bytes that are not UTF-8, which JSON cannot carry", m.Stream, m.ID)
	}
	sum := crc32.Checksum(body, castagnoli)
	var b bytes.Buffer
	fmt.Fprintf(&b, "{\n%q: %q,\n%q: \"crc32c:%08x\",\n%q: ", "format", manifestFormat, "checksum", sum, "manifest")
	b.Write(body)
	b.WriteString("\n}\n")
	return b.Bytes(), sum, nil
}

// decodeManifest parses and checks manifest.json of snapshot id of stream.
// Every failure is a *CorruptError (the bytes are not what Take wrote)
// except an intact manifest of another format version (ErrUnsupported).
func decodeManifest(data []byte, stream, id string) (*Manifest, error) {
	bad := func(err error, format string, args ...any) error {
		return &CorruptError{Stream: stream, ID: id, File: ManifestName, Reason: fmt.Sprintf(format, args...), Err: err}
	}
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, bad(err, "not valid JSON")
	}
	if env.Format != manifestFormat {
		return nil, bad(nil, "format is %q, want %q", env.Format, manifestFormat)
	}
	hex, ok := strings.CutPrefix(env.Checksum, "crc32c:")
	want, err := strconv.ParseUint(hex, 16, 32)
	if !ok || len(hex) != 8 || err != nil {
		return nil, bad(nil, "checksum %q is not crc32c: and 8 hex digits", env.Checksum)
	}
	if got := crc32.Checksum(env.Manifest, castagnoli); got != uint32(want) {
		return nil, bad(nil, "checksum mismatch: the manifest's bytes have CRC-32C %08x, the file says %08x", got, want)
	}
	// JSON is UTF-8, and Go's decoder would replace invalid bytes with
	// U+FFFD without a word: an option or index key would then be restored
	// under another name.
	if !utf8.Valid(env.Manifest) {
		return nil, bad(nil, "the manifest is not valid UTF-8")
	}
	// The checksum holds: from here on the bytes are what a writer wrote.
	// Look at the version before anything else, so a newer format is
	// reported as such rather than as whatever it fails to parse as.
	var v struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal(env.Manifest, &v); err != nil {
		return nil, bad(err, "manifest is not a JSON object")
	}
	if v.Version != FormatVersion {
		return nil, fmt.Errorf("snapshot %s/%s: manifest format version %d is not supported by this tidelog, which reads version %d; upgrade tidelog to read it: %w",
			stream, id, v.Version, FormatVersion, ErrUnsupported)
	}
	var w manifestJSON
	if err := json.Unmarshal(env.Manifest, &w); err != nil {
		return nil, bad(err, "manifest fields")
	}
	m, err := w.fromJSON()
	if err != nil {
		return nil, bad(err, "manifest fields")
	}
	m.Checksum = uint32(want)
	if err := m.validate(stream, id); err != nil {
		return nil, bad(err, "inconsistent manifest")
	}
	return m, nil
}
