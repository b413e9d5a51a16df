package topology

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseHostString(t *testing.T) {
	for _, c := range []struct {
		in    string
		set   string
		hosts []string
	}{
		{"rs/h1:1,h2:2", "rs", []string{"h1:1", "h2:2"}},
		{"rs2/rs203:27017,rs201:27017,rs202:27017", "rs2", []string{"rs201:27017", "rs202:27017", "rs203:27017"}},
		{"rs/h2:2,h1:1,h2:2", "rs", []string{"h1:1", "h2:2"}}, // sorted, duplicates dropped
		{"csrs/[::1]:27019", "csrs", []string{"[::1]:27019"}},
		{"rs/h1", "rs", []string{"h1"}}, // no port: the driver's default
	} {
		h, err := ParseHostString(c.in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if h.SetName != c.set || !slices.Equal(h.Hosts, c.hosts) {
			t.Errorf("%q: got %q %v, want %q %v", c.in, h.SetName, h.Hosts, c.set, c.hosts)
		}
	}
}

func TestParseHostStringStandaloneShard(t *testing.T) {
	_, err := ParseHostString("h:1")
	if !errors.Is(err, ErrNotReplicaSet) {
		t.Fatalf("bare host: err %v, want ErrNotReplicaSet", err)
	}
	if !strings.Contains(err.Error(), "point-in-time") || !strings.Contains(err.Error(), `"h:1"`) {
		t.Fatalf("error %q should name the host and say why replica sets are needed", err)
	}
}

func TestParseHostStringRejects(t *testing.T) {
	for _, in := range []string{"", "  ", "/h:1", "rs/", "rs/h1,,h2", "rs/h1, h2", "r s/h:1"} {
		if h, err := ParseHostString(in); err == nil {
			t.Errorf("%q: parsed as %+v, want an error", in, h)
		}
	}
}

func TestHostStringRoundTrip(t *testing.T) {
	h, err := ParseHostString("rs/b:2,a:1")
	if err != nil {
		t.Fatal(err)
	}
	if got := h.String(); got != "rs/a:1,b:2" {
		t.Fatalf("String() = %q", got)
	}
}
