package topology

import (
	"time"

	"github.com/rs/zerolog"
)

// DefaultTimeout bounds one discovery round (hello, config.shards, the
// config server's name) when Options.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Options shape Discover and the Watcher.
type Options struct {
	// Assume says what the seed is when hello cannot, or overrides the
	// FerretDB inference: KindConfigServer for a server standing in for a
	// config server that does not report configsvr in hello (FerretDB),
	// KindReplicaSet to follow such a server alone although its
	// config.shards holds documents, KindMongos for a router whose hello
	// lacks msg "isdbgrid" (or to run the router's reads against a
	// stand-in). It never makes a mongos or a server that reports configsvr
	// anything else.
	Assume Kind
	// Timeout bounds each discovery round (0: DefaultTimeout), so that a
	// hung server delays a poll, never stops the Watcher.
	Timeout time.Duration
	// Log receives what discovery infers and each failed poll; the zero
	// Logger discards.
	Log zerolog.Logger
}

func (o Options) timeout() time.Duration {
	if o.Timeout <= 0 {
		return DefaultTimeout
	}
	return o.Timeout
}
