package s3store

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// No way of printing a Config, a Secret or a log line with one shows the
// secret; Reveal does.
func TestSecretsNeverPrinted(t *testing.T) {
	const secret, token = "hunter2-very-secret", "session-token-value"
	cfg := Config{Endpoint: "s3.example.com", Bucket: "b", AccessKey: "AKIAEXAMPLE", SecretKey: secret, SessionToken: token}
	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		out = append(out, fmt.Sprintf(verb, cfg), fmt.Sprintf(verb, &cfg), fmt.Sprintf(verb, cfg.SecretKey))
	}
	out = append(out, fmt.Sprint(cfg), fmt.Sprint(struct{ C Config }{cfg}), fmt.Sprintf("%+v", struct{ S Secret }{cfg.SecretKey}))
	j, err := json.Marshal(struct{ S, T Secret }{cfg.SecretKey, cfg.SessionToken})
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, string(j))
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "secret", cfg.SecretKey, "token", cfg.SessionToken)
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "secret", cfg.SecretKey)
	out = append(out, logged.String())
	for _, s := range out {
		if strings.Contains(s, secret) || strings.Contains(s, token) || strings.Contains(s, fmt.Sprintf("%x", secret)) {
			t.Fatalf("secret printed: %s", s)
		}
	}
	if !strings.Contains(fmt.Sprint(cfg), "AKIAEXAMPLE") || !strings.Contains(string(j), redacted) {
		t.Fatalf("access key or redaction mark missing: %s %s", fmt.Sprint(cfg), j)
	}
	if cfg.SecretKey.Reveal() != secret || Secret("").String() != "" {
		t.Fatal("Reveal or empty secret")
	}
}

func TestParseEndpoint(t *testing.T) {
	for _, tc := range []struct {
		raw    string
		secure bool
		want   endpoint
		err    string
	}{
		{"s3.example.com", true, endpoint{"s3.example.com", true}, ""},
		{"127.0.0.1:9000", false, endpoint{"127.0.0.1:9000", false}, ""},
		{"https://s3.example.com", false, endpoint{"s3.example.com", true}, ""},
		{"http://127.0.0.1:9000/", false, endpoint{"127.0.0.1:9000", false}, ""},
		{"http://127.0.0.1:9000", true, endpoint{}, "TLS is required"},
		{"https://AKIA:hunter2@s3.example.com", false, endpoint{}, "must not hold credentials"},
		{"https://s3.example.com/bucket", false, endpoint{}, "without a path"},
		{"ftp://s3.example.com", false, endpoint{}, "http or https"},
		{"s3.example.com/bucket", false, endpoint{}, "want host[:port]"},
		{"", false, endpoint{}, "no endpoint"},
	} {
		got, err := parseEndpoint(tc.raw, tc.secure)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "hunter2") {
				t.Errorf("parseEndpoint(%q) = %v, %v; want error %q without the secret", tc.raw, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parseEndpoint(%q) = %v, %v; want %v", tc.raw, got, err, tc.want)
		}
	}
}

func TestNormPrefix(t *testing.T) {
	for in, want := range map[string]string{"": "", "/": "", "a": "a/", "/a/b/": "a/b/", "a/b": "a/b/"} {
		if got, err := normPrefix(in); err != nil || got != want {
			t.Errorf("normPrefix(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"a//b", "a/./b", "../a", "a/.."} {
		if _, err := normPrefix(bad); err == nil {
			t.Errorf("normPrefix(%q) accepted", bad)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	c, err := Config{Bucket: "b"}.withDefaults()
	if err != nil || c.PartSize != DefaultPartSize || c.MaxRetries != DefaultMaxRetries ||
		c.RetryBaseDelay != DefaultRetryBaseDelay || c.RetryMaxDelay != DefaultRetryMaxDelay {
		t.Fatalf("defaults: %+v, %v", c, err)
	}
	if c, _ := (Config{Bucket: "b", MaxRetries: -1}).withDefaults(); c.MaxRetries != 0 {
		t.Fatalf("MaxRetries -1 gives %d retries, want none", c.MaxRetries)
	}
	for _, bad := range []Config{
		{},
		{Bucket: "b", PartSize: MinPartSize - 1},
		{Bucket: "b", SecretKey: "s"},
		{Bucket: "b", AccessKey: "a"},
	} {
		if _, err := bad.withDefaults(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
