package store_test

import (
	"strings"
	"testing"

	"github.com/tidelog/tidelog/store"
)

// A gap file damaged into valid JSON that is not a gap must not read as
// one: `null` and `{}` would otherwise decode as the zero gap, and the
// history it recorded as lost would show up only as unexplained damage.
func TestDecodeGapRefusesWhatNoTailerRecords(t *testing.T) {
	for _, tc := range []struct{ name, data, want string }{
		{"null", `null`, "next must come after after"},
		{"empty object", `{}`, "next must come after after"},
		{"backwards", `{"after":{"T":20,"I":1},"next":{"T":10,"I":1}}`, "next must come after after"},
		{"empty range", `{"after":{"T":20,"I":1},"next":{"T":20,"I":1}}`, "next must come after after"},
		{"late after after", `{"after":{"T":20,"I":1},"next":{"T":20,"I":2},"late":{"T":21,"I":1}}`, "late entry must be at or before after"},
		{"zero late", `{"after":{"T":20,"I":1},"next":{"T":20,"I":2},"late":{"T":0,"I":0}}`, "late entry must be at or before after"},
		{"not json", `{"after":`, "unexpected end"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := store.DecodeGap([]byte(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("DecodeGap(%s) = %v, want an error containing %q", tc.data, err, tc.want)
			}
		})
	}
	for _, data := range []string{
		`{"after":{"T":20,"I":1},"next":{"T":30,"I":1},"reason":"oplog rolled over"}`,
		`{"after":{"T":20,"I":1},"next":{"T":20,"I":2},"late":{"T":19,"I":4}}`,
		`{"after":{"T":20,"I":1},"next":{"T":20,"I":2},"late":{"T":20,"I":1}}`,
	} {
		if _, err := store.DecodeGap([]byte(data)); err != nil {
			t.Errorf("DecodeGap(%s): %v", data, err)
		}
	}
}
