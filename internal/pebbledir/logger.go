package pebbledir

import (
	"errors"
	"fmt"

	"github.com/rs/zerolog"
)

// Logger gives Pebble's messages to a zerolog.Logger instead of the
// standard library's logger, so that by default (a zero or Nop logger)
// Pebble prints nothing to stdout or stderr.
//
// Fatalf cannot be quiet: Pebble calls it when continuing would be unsafe
// (for example a failed WAL or MANIFEST sync) and relies on it not
// returning; if it returned, a commit whose sync failed would report
// success. So it logs and then panics with a *FatalError, where Pebble's
// default logger would exit the process. Open recovers such a panic, and a
// caller may with RecoverFatal; elsewhere it ends the process, which then
// restarts from its last durable commit.
type Logger struct{ Log zerolog.Logger }

func (l Logger) Infof(format string, args ...any) {
	l.Log.Debug().Str("component", "pebble").Msgf(format, args...)
}

func (l Logger) Errorf(format string, args ...any) {
	l.Log.Error().Str("component", "pebble").Msgf(format, args...)
}

func (l Logger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.Log.Error().Str("component", "pebble").Msg("fatal: " + msg)
	panic(&FatalError{Msg: msg})
}

// FatalError is the panic value of a fatal Pebble error (see Logger).
type FatalError struct{ Msg string }

func (e *FatalError) Error() string { return "pebble: fatal: " + e.Msg }

// RecoverFatal, deferred, turns a *FatalError panic into *err; other
// panics go on.
func RecoverFatal(err *error) {
	r := recover()
	if r == nil {
		return
	}
	var fe *FatalError
	if e, ok := r.(error); ok && errors.As(e, &fe) {
		*err = fe
		return
	}
	panic(r)
}
