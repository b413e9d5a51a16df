// Package modifier applies $v:1 oplog updates ({$set: …, $unset: …}) to a
// document in Go, with the server's semantics, so that a replay can compute a
// document's new version without asking the target to.
//
// MongoDB logs every modifier update ($inc, $push, $rename, …) as the $set
// and $unset of its effects, so these two operators are all an oplog holds.
// Paths are dotted and may index arrays ("a.3.b").
package modifier

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// ErrUnsupported marks an operator other than $set and $unset.
var ErrUnsupported = errors.New("unsupported update operator")

// IsModifier reports whether o is a modifier update (its first field starts
// with $, $v aside) rather than a whole replacement document.
func IsModifier(o bson.Raw) (bool, error) {
	elems, err := o.Elements()
	if err != nil {
		return false, err
	}
	for _, e := range elems {
		if e.Key() == "$v" {
			continue
		}
		return strings.HasPrefix(e.Key(), "$"), nil
	}
	return false, nil // {} or {$v: 1} alone: an empty replacement… treated as replacement
}

// Apply applies the modifier update o ($v:1 form; $v itself is ignored) to
// doc and returns the new document.
func Apply(doc bson.D, o bson.Raw) (bson.D, error) {
	elems, err := o.Elements()
	if err != nil {
		return nil, fmt.Errorf("modifier: %w", err)
	}
	for _, e := range elems {
		switch e.Key() {
		case "$v":
			continue
		case "$set":
			fields, ok := e.Value().DocumentOK()
			if !ok {
				return nil, errors.New("modifier: $set is not a document")
			}
			fe, err := fields.Elements()
			if err != nil {
				return nil, fmt.Errorf("modifier: $set: %w", err)
			}
			for _, f := range fe {
				var v any
				if err := f.Value().Unmarshal(&v); err != nil {
					return nil, fmt.Errorf("modifier: $set %q: %w", f.Key(), err)
				}
				if doc, err = set(doc, strings.Split(f.Key(), "."), v); err != nil {
					return nil, fmt.Errorf("modifier: $set %q: %w", f.Key(), err)
				}
			}
		case "$unset":
			fields, ok := e.Value().DocumentOK()
			if !ok {
				return nil, errors.New("modifier: $unset is not a document")
			}
			fe, err := fields.Elements()
			if err != nil {
				return nil, fmt.Errorf("modifier: $unset: %w", err)
			}
			for _, f := range fe {
				doc = unset(doc, strings.Split(f.Key(), "."))
			}
		default:
			return nil, fmt.Errorf("modifier: %w %s", ErrUnsupported, e.Key())
		}
	}
	return doc, nil
}

// set puts v at path inside doc: an existing field keeps its position, a new
// one is appended; missing intermediate fields become documents; an array
// index past the end pads the array with nulls, as the server does.
func set(doc bson.D, path []string, v any) (bson.D, error) {
	for i := range doc {
		if doc[i].Key != path[0] {
			continue
		}
		if len(path) == 1 {
			doc[i].Value = v
			return doc, nil
		}
		nv, err := setIn(doc[i].Value, path[1:], v)
		if err != nil {
			return nil, err
		}
		doc[i].Value = nv
		return doc, nil
	}
	if len(path) == 1 {
		return append(doc, bson.E{Key: path[0], Value: v}), nil
	}
	sub, err := set(bson.D{}, path[1:], v)
	if err != nil {
		return nil, err
	}
	return append(doc, bson.E{Key: path[0], Value: sub}), nil
}

func setIn(container any, path []string, v any) (any, error) {
	switch c := container.(type) {
	case bson.D:
		return set(c, path, v)
	case bson.A:
		idx, err := strconv.Atoi(path[0])
		if err != nil || idx < 0 {
			return nil, fmt.Errorf("cannot use the part %q to traverse an array", path[0])
		}
		for len(c) <= idx {
			c = append(c, nil)
		}
		if len(path) == 1 {
			c[idx] = v
			return c, nil
		}
		if c[idx] == nil {
			c[idx] = bson.D{}
		}
		nv, err := setIn(c[idx], path[1:], v)
		if err != nil {
			return nil, err
		}
		c[idx] = nv
		return c, nil
	}
	return nil, fmt.Errorf("cannot create field %q in a %T", path[0], container)
}

// unset removes the field at path; an array element becomes null (the
// server keeps array positions); a missing path changes nothing.
func unset(doc bson.D, path []string) bson.D {
	for i := range doc {
		if doc[i].Key != path[0] {
			continue
		}
		if len(path) == 1 {
			return append(doc[:i:i], doc[i+1:]...)
		}
		doc[i].Value = unsetIn(doc[i].Value, path[1:])
		return doc
	}
	return doc
}

func unsetIn(container any, path []string) any {
	switch c := container.(type) {
	case bson.D:
		return unset(c, path)
	case bson.A:
		idx, err := strconv.Atoi(path[0])
		if err != nil || idx < 0 || idx >= len(c) {
			return c
		}
		if len(path) == 1 {
			c[idx] = nil
			return c
		}
		c[idx] = unsetIn(c[idx], path[1:])
		return c
	}
	return container
}
