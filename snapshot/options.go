package snapshot

import (
	"errors"
	"time"

	"github.com/tidelog/tidelog/crypt"
)

// Defaults for Options fields left zero.
const (
	DefaultWorkers   = 4
	DefaultSplitDocs = 100000
)

// Options shape one Take.
type Options struct {
	// Stream is the store stream the snapshot belongs to (the replica set's
	// stream, as tailerd writes it). Empty: the source's replica set name.
	Stream string
	// Workers is how many data files are copied at once (0: DefaultWorkers).
	Workers int
	// SplitDocs: a collection with more documents than this is copied as
	// several files, one per _id range of about SplitDocs documents, by
	// several workers at once (0: DefaultSplitDocs).
	SplitDocs int
	// IncludeUsers also copies admin.system.users and admin.system.roles.
	// Off by default, as for restores: credentials are often managed apart.
	IncludeUsers bool
	// Now returns the wall-clock time (tests); nil is time.Now.
	Now func() time.Time
	// Keys, when it holds a key, encrypts every data file and the manifest
	// with its primary key (docs/snapshot-format.md). Nil: plaintext.
	Keys *crypt.Keyring
}

// withDefaults fills zero fields and rejects nonsense.
func (o Options) withDefaults() (Options, error) {
	if o.Workers < 0 || o.SplitDocs < 0 {
		return o, errors.New("snapshot: Workers and SplitDocs must not be negative")
	}
	if o.Workers == 0 {
		o.Workers = DefaultWorkers
	}
	if o.SplitDocs == 0 {
		o.SplitDocs = DefaultSplitDocs
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o, nil
}
