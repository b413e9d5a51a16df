package follow

import (
	"errors"
	"fmt"

	"github.com/rs/zerolog"
)

// pebbleLogger gives Pebble's messages to the follower's logger, so that
// Pebble prints nothing of its own.
//
// Fatalf must not return: Pebble calls it when going on would be unsafe
// (a failed WAL sync) and relies on that, or a commit whose sync failed
// would report success. It logs and panics with a *pebbleFatal; Open and
// Save recover it as an error, and elsewhere (a background compaction) it
// ends the process, which then restarts from its last durable commit —
// what Pebble's own default logger does with os.Exit.
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
	panic(&pebbleFatal{msg: msg})
}

// pebbleFatal is the panic value of a fatal Pebble error.
type pebbleFatal struct{ msg string }

func (e *pebbleFatal) Error() string { return "pebble: fatal: " + e.msg }

// recoverFatal turns a pebbleFatal panic into *err; other panics go on.
func recoverFatal(err *error) {
	r := recover()
	if r == nil {
		return
	}
	var pf *pebbleFatal
	if e, ok := r.(error); ok && errors.As(e, &pf) {
		*err = fmt.Errorf("checkpoint: %w", pf)
		return
	}
	panic(r)
}
