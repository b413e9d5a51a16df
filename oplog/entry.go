package oplog

import (
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// EntryTS returns the ts field of a raw oplog entry. It is on the capture hot
// path, so it looks up one field and allocates nothing.
func EntryTS(entry bson.Raw) (Timestamp, error) {
	v, err := entry.LookupErr("ts")
	if err != nil {
		return Timestamp{}, fmt.Errorf("oplog entry without ts: %w", err)
	}
	t, i, ok := v.TimestampOK()
	if !ok {
		return Timestamp{}, fmt.Errorf("oplog entry ts is a %s, not a timestamp", v.Type)
	}
	return Timestamp{T: t, I: i}, nil
}

// EntryOp returns the op field ("i", "u", "d", "c" or "n").
func EntryOp(entry bson.Raw) (string, error) {
	v, err := entry.LookupErr("op")
	if err != nil {
		return "", fmt.Errorf("oplog entry without op: %w", err)
	}
	s, ok := v.StringValueOK()
	if !ok {
		return "", fmt.Errorf("oplog entry op is a %s, not a string", v.Type)
	}
	return s, nil
}

// EntryNS returns the ns field ("db.collection", or "db.$cmd" for commands).
func EntryNS(entry bson.Raw) (string, error) {
	v, err := entry.LookupErr("ns")
	if err != nil {
		return "", fmt.Errorf("oplog entry without ns: %w", err)
	}
	s, ok := v.StringValueOK()
	if !ok {
		return "", fmt.Errorf("oplog entry ns is a %s, not a string", v.Type)
	}
	return s, nil
}
