package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Errors name the line of the file as written, comments and blank lines
// included (the file is never re-encoded before it is checked).
func TestConfigErrorLines(t *testing.T) {
	for body, says := range map[string][]string{
		"# tidelog\n\nsource: mongodb://h:1/\n\n\n\nstore: |\n  /s\n\n\ncut_agee: 3s\n": {"line 11", "unknown key cut_agee", "did you mean cut_age"},
		"source: x\nmembers:\n  - name: a\n    url: mongodb://h:2/\n":                   {"line 4", "unknown key members[0].url", "did you mean uri"},
		"store: /s\nprune: maybe\n": {"line 2", "prune", `"maybe" is not true or false`},
		"cut_age: 5\n":              {"line 1", "cut_age", "needs a unit", "5s"},
		"keep_for: [1h]\n":          {"line 1", "keep_for", "want a duration"},
		"store: /a\nstore: /b\n":    {"line 2", "store given twice (first at line 1)"},
		"- source: x\n":             {"line 1", "want keys and values", "not a list"},
		"source: x\n  store: y\n":   {"not valid YAML", "line 2"},
		"snapshot_workers: 1e400\n": {"line 1", "snapshot_workers", "not a whole number"},
		"zzzzzzzzzzzzzzzz: 1\n":     {"line 1", "the keys here are", "accept_gap", "store"},
	} {
		_, err := decodeConfig([]byte(body), fuzzLookup)
		if err == nil || !containsAll(err.Error(), says...) {
			t.Errorf("config %q: error %v, want one saying %q", body, err, says)
		}
	}
}

// Anchors, aliases and merge keys work as in any YAML file; an empty value
// keeps the default; an empty file or one of comments is no settings.
func TestConfigYAMLFeatures(t *testing.T) {
	c, err := decodeConfig([]byte("members:\n  - &m {name: a, uri: 'mongodb://h:1/', role: shard}\n  - <<: *m\n    name: b\n"+
		"cut_age: &age 5s\nsnapshot_every: *age\nkeep_for:\nstream: ${TL_EMPTY:-rs9}\n"), fuzzLookup)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Members) != 2 || c.Members[1].Name != "b" || c.Members[1].URI != "mongodb://h:1/" || c.Members[1].Role != "shard" {
		t.Errorf("merged member: %+v", c.Members)
	}
	if c.CutAge != 5*time.Second || c.SnapshotEvery != 5*time.Second || c.KeepFor != 0 || c.Stream != "rs9" {
		t.Errorf("settings: %+v", c)
	}
	for _, body := range []string{"", "# nothing\n", "~\n", "---\n"} {
		if c, err := decodeConfig([]byte(body), fuzzLookup); err != nil || c.Source != "" {
			t.Errorf("config %q: %+v, %v; want no settings", body, c, err)
		}
	}
}

// A file that names a node billions of times through aliases and merges is
// refused at once, not decoded until the machine gives out.
func TestConfigAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("members:\n  - &a0 {name: x}\n")
	for i := 1; i < 14; i++ {
		refs := strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d, ", i-1), 8), ", ")
		fmt.Fprintf(&b, "  - &a%d {<<: [%s]}\n", i, refs)
	}
	start := time.Now()
	_, err := decodeConfig([]byte(b.String()), fuzzLookup)
	if err == nil || !strings.Contains(err.Error(), "too many aliases") {
		t.Fatalf("alias bomb: %v, want it refused", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("alias bomb refused after %s", took)
	}
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// A value the decoder refuses is quoted in its error, but one that came
// from an environment variable is shown as the file writes it: variables
// are where secrets go.
func TestConfigErrorsDoNotShowExpandedVariables(t *testing.T) {
	lookup := func(string) (string, bool) { return "mongodb://u:S3cretPW@h/", true }
	for _, body := range []string{"cut_bytes: ${S}\n", "members: ${S}\n", "snapshot_every: ${S}\n", "accept_gap: ${S}\n"} {
		_, err := decodeConfig([]byte(body), lookup)
		if err == nil {
			t.Errorf("%q: accepted", body)
			continue
		}
		if strings.Contains(err.Error(), "S3cretPW") || !strings.Contains(err.Error(), "${S}") {
			t.Errorf("%q: %v; want the error to show ${S}, not its value", body, err)
		}
	}
}
