package main

import (
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"

	"github.com/rs/zerolog"

	"github.com/tidelog/tidelog/cycle"
	"github.com/tidelog/tidelog/topology"
)

// levelWriter drops events below a level that SIGHUP may change: loggers
// are copied into every part of tailerd, so their own level cannot be.
type levelWriter struct {
	w     zerolog.LevelWriter
	level atomic.Int32
}

func newLevelWriter(w zerolog.LevelWriter, l zerolog.Level) *levelWriter {
	lw := &levelWriter{w: w}
	lw.level.Store(int32(l))
	return lw
}

func (lw *levelWriter) Write(p []byte) (int, error) { return lw.w.Write(p) }

func (lw *levelWriter) WriteLevel(l zerolog.Level, p []byte) (int, error) {
	if l < zerolog.Level(lw.level.Load()) && l != zerolog.NoLevel {
		return len(p), nil
	}
	return lw.w.WriteLevel(l, p)
}

func (lw *levelWriter) set(l zerolog.Level) { lw.level.Store(int32(l)) }

// reloadable are the settings SIGHUP applies to a running tailerd (see
// applied): the log level, and the backup cycle's (every pipeline restarts
// its cycle with them, after a snapshot in progress). Everything else needs
// a restart.
var reloadable = map[string]bool{
	"log_level": true, "snapshot_every": true, "snapshot_workers": true, "keep_snapshots": true,
	"keep_for": true, "prune": true, "include_users": true,
}

// change is one setting a reload found changed.
type change struct {
	Key      string // the YAML key
	Old, New string // values for the log, secrets redacted
	// Applied: now in effect. Otherwise Why says what keeps it out.
	Applied bool
	Why     string
}

// reloadTarget is what a reload changes in the running daemon.
type reloadTarget interface {
	setLogLevel(zerolog.Level)
	setCycleConfig(cycle.Config)
}

// reload compares the running configuration with the one just read and
// applies what can change in a running tailerd. It returns every changed
// setting, applied or not, so that none is ignored silently: a key that
// needs a restart, and a key changed in the file but set by a flag (which
// wins), are reported as such.
func reload(old, next config, to reloadTarget) []change {
	var out []change
	ov, nv := reflect.ValueOf(old.fileConfig), reflect.ValueOf(next.fileConfig)
	of, nf := reflect.ValueOf(old.file), reflect.ValueOf(next.file)
	typ := ov.Type()
	cycleChanged := false
	for i := range typ.NumField() {
		key := yamlKey(typ.Field(i))
		if key == "" {
			continue
		}
		if !reflect.DeepEqual(ov.Field(i).Interface(), nv.Field(i).Interface()) {
			c := change{Key: key, Old: showSetting(key, ov.Field(i).Interface()), New: showSetting(key, nv.Field(i).Interface())}
			switch {
			case !reloadable[key]:
				c.Why = "needs a restart"
			case key == "log_level":
				l, _ := zerolog.ParseLevel(next.LogLevel) // parseArgs checked it
				to.setLogLevel(l)
				c.Applied = true
			default:
				cycleChanged = true
				c.Applied = true
			}
			out = append(out, c)
			continue
		}
		// Same effective value: a flag that wins may hide a file change.
		if flagName := flagFor(key); old.flagsSet[flagName] && !reflect.DeepEqual(of.Field(i).Interface(), nf.Field(i).Interface()) {
			out = append(out, change{Key: key, Old: showSetting(key, of.Field(i).Interface()), New: showSetting(key, nf.Field(i).Interface()),
				Why: "--" + flagName + " on the command line wins over the file; change the flag and restart"})
		}
	}
	if c, ok := keysChanged(old, next); ok {
		// Not a file setting (the file's path may be the same): the keys
		// read from it, or from the environment.
		out = append(out, c)
	}
	if cycleChanged {
		// Only the reloadable settings: a changed stream, say, needs a
		// restart, and the cycle must keep snapshotting the stream captured.
		to.setCycleConfig(applied(old, next).cycle())
	}
	return out
}

// flagFor is the flag of a YAML key.
func flagFor(key string) string {
	if key == "members" {
		return "member"
	}
	return strings.ReplaceAll(key, "_", "-")
}

// showSetting renders a setting's value for the log, without secrets.
func showSetting(key string, v any) string {
	switch x := v.(type) {
	case string:
		if key == "source" {
			return topology.RedactURI(x)
		}
		return x
	case []memberConfig:
		parts := make([]string, len(x))
		for i, m := range x {
			parts[i] = m.Name + "=" + topology.RedactURI(m.URI)
		}
		return strings.Join(parts, ",")
	case []publishConfig:
		parts := make([]string, len(x))
		for i, p := range x {
			parts[i] = p.Name + "=" + p.Store
		}
		return strings.Join(parts, ",")
	}
	return fmt.Sprint(v)
}

// logReload logs a reload's outcome, one line per changed setting.
func logReload(log zerolog.Logger, changes []change) {
	if len(changes) == 0 {
		log.Info().Msg("config reloaded: no setting changed")
		return
	}
	restart := 0
	for _, c := range changes {
		if c.Applied {
			log.Info().Str("key", c.Key).Str("old", c.Old).Str("new", c.New).Msg("config reloaded: setting applied")
			continue
		}
		restart++
		log.Warn().Str("key", c.Key).Str("old", c.Old).Str("new", c.New).Str("why", c.Why).
			Msg("config reloaded: setting NOT applied: " + c.Why)
	}
	if restart > 0 {
		log.Warn().Int("not_applied", restart).Msg("some changed settings are not in effect until tailerd restarts (systemctl restart tailerd)")
	}
}
