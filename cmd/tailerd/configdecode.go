package main

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// configHint ends every config error: where the keys and their forms are.
const configHint = "see deploy/tailerd.yaml for every key and its form"

// decodeConfig reads a config file's bytes: YAML, ${VAR} expanded from
// lookup, decoded strictly. Every error names the line of the file it is
// about and says what the value should be: a misspelt key, a key given
// twice or a value of the wrong form is an error, never a setting silently
// ignored or guessed.
func decodeConfig(data []byte, lookup func(string) (string, bool)) (fileConfig, error) {
	var c fileConfig
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return c, fmt.Errorf("not valid YAML: %s; fix the syntax there (indentation, a missing ':' or quote; "+
			"quote a value holding ': ' or starting with a special character)", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	doc := &root
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return c, nil // only comments: a valid config with no settings
		}
		doc = doc.Content[0]
	}
	if doc.Kind == 0 || isNull(doc) {
		return c, nil // an empty file: a valid config with no settings
	}
	expanded := map[string]string{}
	if err := expandNode(doc, lookup, expanded); err != nil {
		return c, err
	}
	var d strictDecoder
	if err := d.decode(doc, reflect.ValueOf(&c).Elem(), "", 0); err != nil {
		return c, hideExpanded(err, expanded)
	}
	return c, nil
}

// maxConfigDepth bounds the decoder's recursion (through aliases and
// merges); the config's own structure is three levels deep. maxConfigNodes
// bounds its work: aliases let a short file name a node many times over.
const (
	maxConfigDepth = 16
	maxConfigNodes = 100000
)

// strictDecoder decodes a config's YAML tree, counting the nodes visited.
type strictDecoder struct{ nodes int }

// decode decodes n into v, which is fileConfig or a part of it: a struct
// from a mapping whose every key must name a field, a slice of structs from
// a sequence, anything else with yaml's own decoding (and durations with
// time.ParseDuration). key is the key path for messages.
func (d *strictDecoder) decode(n *yaml.Node, v reflect.Value, key string, depth int) error {
	d.nodes++
	if depth > maxConfigDepth || d.nodes > maxConfigNodes {
		return fmt.Errorf("line %d: %s: nested too deeply, or too many aliases", n.Line, keyName(key))
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return fmt.Errorf("line %d: %s: alias to nothing", n.Line, keyName(key))
		}
		return d.decode(n.Alias, v, key, depth+1)
	}
	if isNull(n) {
		return nil // key: (nothing) leaves the default
	}
	switch {
	case v.Type() == reflect.TypeFor[time.Duration]():
		return decodeDuration(n, v, key)
	case v.Kind() == reflect.Struct:
		return d.decodeMapping(n, v, key, depth)
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Struct:
		if n.Kind != yaml.SequenceNode {
			return fmt.Errorf("line %d: %s: want a list (lines starting with '- '), not %s; %s", n.Line, keyName(key), nodeKind(n), configHint)
		}
		out := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			if err := d.decode(item, out.Index(i), fmt.Sprintf("%s[%d]", key, i), depth+1); err != nil {
				return err
			}
		}
		v.Set(out)
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: %s: want %s, not %s; %s", n.Line, keyName(key), valueKind(v.Type()), nodeKind(n), configHint)
	}
	if err := n.Decode(v.Addr().Interface()); err != nil {
		return fmt.Errorf("line %d: %s: %q is not %s; %s", n.Line, keyName(key), n.Value, valueKind(v.Type()), configHint)
	}
	return nil
}

// decodeMapping decodes a mapping into struct v by the fields' yaml tags.
// Merge keys (<<: *base) are applied first, so that the mapping's own keys
// win over them, as in YAML.
func (d *strictDecoder) decodeMapping(n *yaml.Node, v reflect.Value, key string, depth int) error {
	if n.Kind != yaml.MappingNode {
		what := "the config file"
		if key != "" {
			what = keyName(key)
		}
		return fmt.Errorf("line %d: %s: want keys and values (key: value), not %s; %s", n.Line, what, nodeKind(n), configHint)
	}
	fields := yamlFields(v.Type())
	seen := map[string]int{}
	for pass := 0; pass < 2; pass++ {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			merge := k.Kind == yaml.ScalarNode && k.Value == "<<" && (k.Tag == "!!merge" || k.Tag == "")
			if merge != (pass == 0) {
				continue
			}
			if merge {
				if err := d.decodeMerge(val, v, key, depth); err != nil {
					return err
				}
				continue
			}
			if k.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: a key must be a plain name, not %s; %s", k.Line, nodeKind(k), configHint)
			}
			name := k.Value
			if first, dup := seen[name]; dup {
				return fmt.Errorf("line %d: key %s given twice (first at line %d): keep one", k.Line, keyName(join(key, name)), first)
			}
			seen[name] = k.Line
			idx, ok := fields[name]
			if !ok {
				return fmt.Errorf("line %d: unknown key %s%s", k.Line, keyName(join(key, name)), suggest(name, fields))
			}
			if err := d.decode(val, v.Field(idx), join(key, name), depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// decodeMerge applies a merge key's value: a mapping, or a list of them.
func (d *strictDecoder) decodeMerge(val *yaml.Node, v reflect.Value, key string, depth int) error {
	for val.Kind == yaml.AliasNode && val.Alias != nil && depth <= maxConfigDepth {
		val, depth = val.Alias, depth+1
	}
	if val.Kind == yaml.SequenceNode {
		for _, item := range val.Content {
			if err := d.decode(item, v, key, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return d.decode(val, v, key, depth+1)
}

// decodeDuration reads a duration with its unit: a bare number would be
// nanoseconds to yaml, which no one means by "cut_age: 5".
func decodeDuration(n *yaml.Node, v reflect.Value, key string) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: %s: want a duration such as 500ms, 30s, 5m or 24h, not %s; %s", n.Line, keyName(key), nodeKind(n), configHint)
	}
	d, err := time.ParseDuration(strings.TrimSpace(n.Value))
	if err != nil {
		hint := "want a duration such as 500ms, 30s, 5m or 24h"
		if isNumber(n.Value) {
			hint = "a duration needs a unit: write e.g. " + n.Value + "s or " + n.Value + "ms"
		}
		return fmt.Errorf("line %d: %s: %q is not a duration: %s", n.Line, keyName(key), n.Value, hint)
	}
	v.SetInt(int64(d))
	return nil
}

// yamlFields maps a struct's yaml keys to its field indexes.
func yamlFields(t reflect.Type) map[string]int {
	out := map[string]int{}
	for i := range t.NumField() {
		if name := yamlKey(t.Field(i)); name != "" {
			out[name] = i
		}
	}
	return out
}

// yamlKey is a field's key in the config file, "" for none.
func yamlKey(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	return name
}

// suggest names the known key closest to a misspelt one, or lists them all.
func suggest(name string, fields map[string]int) string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	best, bestDist := "", 3
	for _, k := range keys {
		if d := editDistance(name, k); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best != "" {
		return fmt.Sprintf(": did you mean %s? (%s)", best, configHint)
	}
	return fmt.Sprintf(": the keys here are %s (%s)", strings.Join(keys, ", "), configHint)
}

// editDistance is the Levenshtein distance, for suggestions; the inputs
// are keys, so short, and a long one is simply not close.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func isNumber(s string) bool {
	_, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return err == nil
}

// nodeKind names what a node is, for messages.
func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping (key: value lines)"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("the value %q", n.Value)
	}
	return "nothing"
}

// valueKind names what a setting of type t wants, for messages.
func valueKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "a whole number"
	case reflect.String:
		return "a string"
	}
	return "a " + t.String()
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

func keyName(key string) string {
	if key == "" {
		return "the config"
	}
	return key
}
