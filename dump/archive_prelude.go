package dump

import (
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// parseHeader reads the archive header document. Absent fields stay zero
// (old archives have no server_version); fields of the wrong type are errors.
func parseHeader(doc bson.Raw) (Header, error) {
	h := Header{Raw: cloneRaw(doc)}
	var err error
	if h.ConcurrentCollections, _, err = intField(doc, "concurrent_collections"); err != nil {
		return h, err
	}
	for _, f := range []struct {
		key string
		dst *string
	}{{"version", &h.FormatVersion}, {"server_version", &h.ServerVersion}, {"tool_version", &h.ToolVersion}} {
		if *f.dst, _, err = stringField(doc, f.key); err != nil {
			return h, err
		}
	}
	return h, nil
}

// parseCollectionEntry reads one prelude entry: {db, collection, metadata
// (Extended JSON in a string, "" for the oplog), size, type?, uuid?}.
func parseCollectionEntry(doc bson.Raw) (Collection, error) {
	var c Collection
	var ok bool
	var err error
	if c.DB, ok, err = stringField(doc, "db"); err != nil {
		return c, err
	} else if !ok {
		return c, errors.New("no db field")
	}
	if c.Collection, _, err = stringField(doc, "collection"); err != nil {
		return c, err
	} else if c.Collection == "" {
		return c, errors.New("no collection name")
	}
	meta, _, err := stringField(doc, "metadata")
	if err != nil {
		return c, err
	}
	if meta != "" {
		if c.Metadata, err = ParseMetadata([]byte(meta)); err != nil {
			return c, fmt.Errorf("%s: %w", c.Namespace, err)
		}
	}
	if c.Size, _, err = intField(doc, "size"); err != nil {
		return c, err
	}
	if c.Type, _, err = stringField(doc, "type"); err != nil {
		return c, err
	}
	if c.UUID, _, err = stringField(doc, "uuid"); err != nil {
		return c, err
	}
	return c, nil
}

// stringField returns doc[key] when it is a string; ok is false when absent.
func stringField(doc bson.Raw, key string) (s string, ok bool, err error) {
	v, lerr := doc.LookupErr(key)
	if lerr != nil {
		return "", false, nil
	}
	s, ok = v.StringValueOK()
	if !ok {
		return "", false, fmt.Errorf("field %s is %s, not a string", key, v.Type)
	}
	return s, true, nil
}

// intField returns doc[key] when it is an int32 or int64 (or an integral
// double); ok is false when absent.
func intField(doc bson.Raw, key string) (n int64, ok bool, err error) {
	v, lerr := doc.LookupErr(key)
	if lerr != nil {
		return 0, false, nil
	}
	switch v.Type {
	case bson.TypeInt32:
		return int64(v.Int32()), true, nil
	case bson.TypeInt64:
		return v.Int64(), true, nil
	case bson.TypeDouble:
		f := v.Double()
		if f == float64(int64(f)) {
			return int64(f), true, nil
		}
	}
	return 0, false, fmt.Errorf("field %s is %s %s, not an integer", key, v.Type, v)
}

// cloneRaw copies doc out of a reused buffer.
func cloneRaw(doc bson.Raw) bson.Raw {
	return append(bson.Raw(nil), doc...)
}
