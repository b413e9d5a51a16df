package main

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// fuzzEnv is the environment config fuzzing expands ${VAR} from.
var fuzzEnv = map[string]string{"TL_AGE": "5s", "TL_URI": "mongodb://u:p@h:1/?replicaSet=rs0", "TL_EMPTY": "", "TL_NUM": "4096"}

func fuzzLookup(name string) (string, bool) { v, ok := fuzzEnv[name]; return v, ok }

// fuzzDeadline bounds one decode: a config is a few hundred bytes, so any
// input that takes this long is a hang, not a slow machine.
const fuzzDeadline = 10 * time.Second

// FuzzConfig feeds arbitrary bytes to the config file decoder.
//
// Invariants: no panic and no hang; an error is either a YAML syntax error
// or names the line it is about; a config that decodes is encoded back to
// YAML and decodes to the same settings.
func FuzzConfig(f *testing.F) {
	example, err := os.ReadFile("../../deploy/tailerd.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Add([]byte("source: ${TL_URI}\nstore: /var/lib/tidelog\ncut_age: ${TL_AGE}\ncut_bytes: ${TL_NUM}\nprune: true\n"))
	f.Add([]byte("store: s3://b/p?endpoint=127.0.0.1:9000\ncheckpoint: /c$$1\nmembers:\n  - name: cfg\n    uri: mongodb://h0:27019/?replicaSet=cfg\n    role: config\n"))
	f.Add([]byte("publish_to:\n  - name: standby\n    store: kafka://127.0.0.1:9092/tl\nspool: /spool\nspool_max_bytes: 1048576\n"))
	f.Add([]byte("base: &b\n  cut_age: 5s\n<<: *b\n"))
	f.Add([]byte("defaults: &d {cut_age: 1s}\nkeep_for: *d\n"))
	f.Add([]byte("cut_age: 5\nsnapshot_every: ${TL_EMPTY:-1h}\nhttp_addr: \"${TL_UNSET}\"\n"))
	f.Add([]byte("# only a comment\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := decodeWithin(t, data)
		if err != nil {
			msg := err.Error()
			if !strings.HasPrefix(msg, "not valid YAML: ") && !strings.Contains(msg, "line ") {
				t.Fatalf("error names no line: %v", err)
			}
			return
		}
		// What decodes, encodes back to a config that decodes the same.
		out, err := yaml.Marshal(escapeDollars(c))
		if err != nil {
			t.Fatalf("marshal %+v: %v", c, err)
		}
		again, err := decodeWithin(t, out)
		if err != nil {
			t.Fatalf("re-encoded config does not decode: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(normalized(again), normalized(c)) {
			t.Fatalf("round trip differs:\n got %+v\nwant %+v\n%s", again, c, out)
		}
	})
}

// decodeWithin decodes data; a decode that takes too long crashes the
// fuzzing process with the input, which then becomes a failing corpus
// entry (a test cannot fail while its goroutine is stuck).
func decodeWithin(t *testing.T, data []byte) (fileConfig, error) {
	hung := time.AfterFunc(fuzzDeadline, func() { panic(fmt.Sprintf("decoding %q took over %s", data, fuzzDeadline)) })
	defer hung.Stop()
	return decodeConfig(data, fuzzLookup)
}

// escapeDollars doubles every $ in the config's strings, so that encoding
// them and expanding again yields them unchanged.
func escapeDollars(c fileConfig) fileConfig {
	v := reflect.ValueOf(&c).Elem()
	var walk func(reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.String:
			v.SetString(strings.ReplaceAll(v.String(), "$", "$$"))
		case reflect.Struct:
			for i := range v.NumField() {
				walk(v.Field(i))
			}
		case reflect.Slice:
			s := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
			reflect.Copy(s, v)
			for i := range s.Len() {
				walk(s.Index(i))
			}
			v.Set(s)
		}
	}
	walk(v)
	return c
}

// normalized treats an empty list like a missing one: both mean none.
func normalized(c fileConfig) fileConfig {
	if len(c.Members) == 0 {
		c.Members = nil
	}
	if len(c.PublishTo) == 0 {
		c.PublishTo = nil
	}
	return c
}

// FuzzExpandEnv feeds arbitrary strings to ${VAR} expansion.
//
// Invariants: no panic; a string without '$' is unchanged; a string whose
// every '$' is doubled expands back to itself.
func FuzzExpandEnv(f *testing.F) {
	for _, s := range []string{"", "plain", "${TL_AGE}", "a${TL_URI}b", "$$", "${TL_EMPTY:-x}", "${TL_UNSET:-def}", "${TL_UNSET}",
		"${", "$", "${1A}", "${A:-${B}}", "$x${TL_NUM}$"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := expandEnv(s, fuzzLookup)
		if !strings.Contains(s, "$") && (err != nil || got != s) {
			t.Fatalf("expandEnv(%q) = %q, %v: want it unchanged", s, got, err)
		}
		escaped := strings.ReplaceAll(s, "$", "$$")
		if back, err := expandEnv(escaped, fuzzLookup); err != nil || back != s {
			t.Fatalf("expandEnv(%q) = %q, %v: want %q", escaped, back, err, s)
		}
	})
}

// FuzzStatusDoc feeds arbitrary JSON, as a /status endpoint might answer,
// to `tailerd status`'s decoder and text rendering: never a panic.
func FuzzStatusDoc(f *testing.F) {
	f.Add([]byte(`{"ready":true,"streams":[{"stream":"rs0","state":"capturing","lag_seconds":1.5,"headroom_seconds":100,"stats":{"bytes":18446744073709551615}}],` +
		`"spool":{"dir":"/s","bytes":-1,"max_bytes":1073741824,"dests":[{"name":"k","pending_bytes":5,"oldest_age_seconds":1e300,"failing":true}]}}`))
	f.Add([]byte(`{"not_ready":"starting","gaps_detected":2,"config":{"members":{"a":"mongodb://h"}}}`))
	f.Add([]byte(`{"streams":[{"checkpoint_age_seconds":-1e308,"snapshots":{"complete":1,"newest_age_seconds":9e18}}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var doc statusDoc
		if json.Unmarshal(body, &doc) != nil {
			return
		}
		if formatStatus(doc) == "" {
			t.Fatal("empty status text")
		}
	})
}
