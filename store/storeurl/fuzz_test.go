package storeurl

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary store locations to Parse, each also with a
// password planted as user info (of a URL, and of one missing its "//")
// and as a query parameter.
//
// Invariants: no panic; every error wraps ErrInvalid; a parsed location is
// of a known kind; neither an error nor a parsed location's String ever
// repeats the planted password (a location shows in logs and ps).
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"/var/lib/tidelog/store", "store", "file:///srv/x%20y", "FILE://localhost/a", "s3:bucket",
		"s3://backups/prod/db1/?region=eu-west-1", "s3://b-1/p?endpoint=127.0.0.1:9000&tls=false&path_style=true",
		"s3://bkt?endpoint=https://s3.example.com&tls=true&ca_file=/etc/ca.pem", "s3://bkt?endpoint=http://h:1/p",
		"kafka://k1:9092,k2:9093,[::1]:9094/prod-tidelog/?replication_factor=3&min_insync_replicas=2&max_message_bytes=1048576&client_id=tl",
		"kafka://k1:9092?replication_factor=0", "gs://x", "s3://a/b/../c", "s3://bkt?x=1&x=2", "kafka://k:1#frag",
		"s3://AKIA:se/cret@bucket/p", "kafka://h:1/%zz", "",
	} {
		f.Add(s, "Zq7xW3pLr9")
	}
	f.Fuzz(func(t *testing.T, raw, secret string) {
		loc, err := Parse(raw)
		checkParsed(t, raw, loc, err, "")
		if !plantable(secret) || strings.Contains(strconv.Quote(raw), secret) {
			return
		}
		if scheme, rest, ok := strings.Cut(raw, "://"); ok {
			withUser := scheme + "://backup:" + secret + "@" + rest
			loc, err := Parse(withUser)
			checkParsed(t, withUser, loc, err, secret)
		}
		// The same, written without "//" (a typo Parse refuses).
		typo := "s3:backup:" + secret + "@" + raw
		loc, err = Parse(typo)
		checkParsed(t, typo, loc, err, secret)
		sep := "?"
		if strings.Contains(raw, "?") {
			sep = "&"
		}
		withParam := raw + sep + "password=" + secret
		loc, err = Parse(withParam)
		checkParsed(t, withParam, loc, err, secret)
	})
}

// plantable is a password no message holds by itself: at least ten
// letters and digits, with both.
func plantable(s string) bool {
	letters, digits := 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			letters++
		case c >= '0' && c <= '9':
			digits++
		default:
			return false
		}
	}
	return len(s) >= 10 && letters > 0 && digits > 0
}

func checkParsed(t *testing.T, raw string, loc Location, err error, secret string) {
	t.Helper()
	if err != nil {
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("Parse(%q): error does not wrap ErrInvalid: %v", raw, err)
		}
		if secret != "" && strings.Contains(err.Error(), secret) {
			t.Fatalf("Parse(%q): error repeats the password: %v", raw, err)
		}
		return
	}
	switch loc.Kind {
	case Dir:
		if loc.Path == "" {
			t.Fatalf("Parse(%q): directory location without a path", raw)
		}
	case S3, Kafka:
	default:
		t.Fatalf("Parse(%q): unknown kind %q", raw, loc.Kind)
	}
	if secret != "" && loc.Kind != Dir && strings.Contains(loc.String(), secret) {
		t.Fatalf("Parse(%q) = %s: repeats the password", raw, loc)
	}
}
