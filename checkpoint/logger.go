package checkpoint

import (
	"fmt"

	"github.com/rs/zerolog"
)

// pebbleLogger gives Pebble's messages to a zerolog.Logger instead of the
// standard library's logger, so that by default (a zero or Nop logger) Pebble
// prints nothing to stdout or stderr.
//
// Fatalf cannot be quiet: Pebble calls it when continuing would be unsafe
// (for example a failed WAL or MANIFEST sync) and relies on it not returning;
// if it returned, a Commit whose sync failed would report success. So it
// logs and then panics with a *FatalError, where Pebble's default logger
// would exit the process. Open recovers such a panic and reports the
// checkpoint as corrupt; elsewhere it ends the process, which then restarts
// from its last durable position.
type pebbleLogger struct{ log zerolog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.log.Debug().Str("component", "pebble").Msgf(format, args...)
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	l.log.Error().Str("component", "pebble").Msgf(format, args...)
}

func (l pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.log.Error().Str("component", "pebble").Msg("fatal: " + msg)
	panic(&FatalError{Msg: msg})
}

// FatalError is the panic value of a fatal Pebble error (see pebbleLogger).
type FatalError struct{ Msg string }

func (e *FatalError) Error() string { return "pebble: fatal: " + e.Msg }
