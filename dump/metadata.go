package dump

import (
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Metadata is a collection's metadata as mongodump writes it (the
// .metadata.json file, or the "metadata" string of an archive's prelude):
// Extended JSON with the collection options, the index specs and more.
type Metadata struct {
	// Options are the collection's create options (capped, validator,
	// collation, timeseries, viewOn/pipeline...); empty when none.
	Options bson.Raw
	// Indexes are the index specs, as listIndexes returned them.
	Indexes []bson.Raw
	// UUID is the collection UUID as hex, when dumped.
	UUID string
	// Type is "collection", "view" or "timeseries" when the tool wrote it.
	Type string
	// CollectionName is the real name when the tool wrote it (newer tools
	// do, since file names may be escaped or truncated).
	CollectionName string
	// Raw is the whole metadata document: fields not parsed above are here.
	Raw bson.Raw
}

// ParseMetadata parses mongodump metadata Extended JSON (canonical or
// relaxed). It returns an error naming the field that has the wrong type.
func ParseMetadata(data []byte) (*Metadata, error) {
	var raw bson.Raw
	if err := bson.UnmarshalExtJSON(data, false, &raw); err != nil {
		return nil, fmt.Errorf("metadata is not Extended JSON: %w", err)
	}
	m := &Metadata{Raw: raw}
	if v, err := raw.LookupErr("options"); err == nil {
		doc, ok := v.DocumentOK()
		if !ok {
			return nil, fmt.Errorf("metadata: options is %s, not a document", v.Type)
		}
		m.Options = doc
	}
	if v, err := raw.LookupErr("indexes"); err == nil {
		arr, ok := v.ArrayOK()
		if !ok {
			return nil, fmt.Errorf("metadata: indexes is %s, not an array", v.Type)
		}
		vals, err := arr.Values()
		if err != nil {
			return nil, fmt.Errorf("metadata: indexes: %w", err)
		}
		for i, iv := range vals {
			doc, ok := iv.DocumentOK()
			if !ok {
				return nil, fmt.Errorf("metadata: indexes[%d] is %s, not a document", i, iv.Type)
			}
			m.Indexes = append(m.Indexes, doc)
		}
	}
	for _, f := range []struct {
		key string
		dst *string
	}{{"uuid", &m.UUID}, {"type", &m.Type}, {"collectionName", &m.CollectionName}} {
		v, err := raw.LookupErr(f.key)
		if err != nil {
			continue
		}
		s, ok := v.StringValueOK()
		if !ok {
			return nil, fmt.Errorf("metadata: %s is %s, not a string", f.key, v.Type)
		}
		*f.dst = s
	}
	return m, nil
}
