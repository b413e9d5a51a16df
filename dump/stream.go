package dump

import (
	"errors"
	"io"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Stream is what Archive and Dir have in common: documents with their
// namespace, in dump order, through Next (io.EOF at the end).
type Stream interface {
	Next() (Namespace, bson.Raw, error)
}

// Each calls fn for every document of s until the end or the first error,
// which it returns (fn's error as it is). The document is valid only during
// the call.
func Each(s Stream, fn func(ns Namespace, doc bson.Raw) error) error {
	for {
		ns, doc, err := s.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(ns, doc); err != nil {
			return err
		}
	}
}
