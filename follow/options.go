package follow

import (
	"errors"
	"time"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/tidelog/tidelog/crypt"
	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/replay"
	"github.com/tidelog/tidelog/segment"
	"github.com/tidelog/tidelog/store"
)

// Defaults of the Options left zero.
const (
	DefaultPoll     = 200 * time.Millisecond
	DefaultReadyLag = 30 * time.Second
)

// Options say what to follow, onto what, and how.
type Options struct {
	// Store is where tailerd puts the stream's segments (required).
	Store store.Store
	// Stream to follow; empty is fine when the store holds exactly one. A
	// checkpoint remembers the stream it follows.
	Stream string
	// Target receives the writes (required). Its connection stays open for
	// the follower's life.
	Target *mongo.Client
	// TargetName identifies the target in the checkpoint (a URI without
	// credentials): a checkpoint made for another target is refused.
	TargetName string
	// CheckpointDir is the follower's own Pebble checkpoint (required).
	CheckpointDir string

	// Delay applies an entry only once its ts is at least this old.
	Delay time.Duration
	// Until, when not zero, stops the follower once every entry at or
	// before it is applied (waiting for the store to reach it).
	Until oplog.Timestamp
	// Poll is how often the store's listing is read for new segments
	// (0: DefaultPoll).
	Poll time.Duration
	// ReadyLag is the apply lag (beyond Delay) within which the follower
	// counts as ready (0: DefaultReadyLag).
	ReadyLag time.Duration

	// Drop lets the initial restore replace namespaces the target already
	// holds; without it an occupied target is refused before any write.
	Drop bool
	// Workers load the initial restore's snapshot in parallel (0: 4).
	Workers int
	// Apply selects, renames and filters what is written, as for restore.
	Apply replay.Options
	// Keys decrypt encrypted segments and snapshots; nil: an encrypted one
	// stops the follower with an error naming its key id.
	Keys *crypt.Keyring
	// RequireEncryption refuses plaintext segments and snapshots (forgeable
	// by whoever can write to the store), as for restore.
	RequireEncryption bool

	// Clock measures Delay, the lag and the checkpoint's age, and stamps
	// commits (nil: the wall clock).
	Clock Clock
	Log   zerolog.Logger

	// Test hooks: a non-nil error stops Run at once, as a kill would.
	beforeCommit        func(State) error // after the target acknowledged a cycle's writes, before the checkpoint commit
	afterInitialRecord  func() error      // after "initial restore in progress" is committed, before the restore writes
	afterInitialRestore func() error      // after the initial restore wrote everything, before it is committed
}

// readOptions is how the follower reads segments.
func (o Options) readOptions() segment.ReaderOptions {
	return segment.ReaderOptions{Keys: o.Keys, RequireEncryption: o.RequireEncryption}
}

// withDefaults checks the required options and fills in the defaults.
func (o Options) withDefaults() (Options, error) {
	switch {
	case o.Store == nil:
		return o, errors.New("follow: no store")
	case o.Target == nil:
		return o, errors.New("follow: no target")
	case o.CheckpointDir == "":
		return o, errors.New("follow: no checkpoint directory")
	case o.Delay < 0 || o.Poll < 0 || o.ReadyLag < 0:
		return o, errors.New("follow: negative delay, poll or ready lag")
	}
	if o.Poll == 0 {
		o.Poll = DefaultPoll
	}
	if o.ReadyLag == 0 {
		o.ReadyLag = DefaultReadyLag
	}
	if o.Clock == nil {
		o.Clock = systemClock{}
	}
	return o, nil
}
