package main

import (
	"context"
	"errors"
	"io"
	"os"
	"reflect"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/tidelog/tidelog/capture"
	"github.com/tidelog/tidelog/cycle"
	"github.com/tidelog/tidelog/internal/sdnotify"
	"github.com/tidelog/tidelog/store/spool"
)

// observed is what the metrics endpoint reads: it serves from before the
// store is open, so the pipelines and the spool are filled in when known.
type observed struct {
	p     atomic.Pointer[pipelines]
	spool atomic.Pointer[spool.Spool]
	cfg   atomic.Pointer[config] // the running configuration
	// storeWait is set while tailerd waits for a store it cannot reach
	// at start.
	storeWait atomic.Pointer[string]
}

func (o *observed) set(p *pipelines)        { o.p.Store(p) }
func (o *observed) setSpool(s *spool.Spool) { o.spool.Store(s) }
func (o *observed) get() *pipelines         { return o.p.Load() }

// setStoreWait records the wait for the store (nil: not waiting).
func (o *observed) setStoreWait(w *storeWait) {
	if w == nil {
		o.storeWait.Store(nil)
		return
	}
	s := w.String()
	o.storeWait.Store(&s)
}

// starting says why capture has not started yet.
func (o *observed) starting() string {
	if w := o.storeWait.Load(); w != nil {
		return *w
	}
	return "starting: opening the store, the checkpoint and the source"
}

func (o *observed) spoolStatus() (spool.Status, bool) {
	s := o.spool.Load()
	if s == nil {
		return spool.Status{}, false
	}
	return s.Status(), true
}

func (o *observed) ready() error {
	p := o.p.Load()
	if p == nil {
		return errors.New(o.starting())
	}
	return p.ready()
}

func (o *observed) status(levels *levelWriter) any {
	p := o.p.Load()
	if p == nil {
		p = &pipelines{}
	}
	doc := p.status(*o.cfg.Load(), o.spoolStatus, zerolog.Level(levels.level.Load()).String(), time.Now())
	if o.p.Load() == nil {
		doc.NotReady = o.starting()
	}
	return doc
}

// daemon is tailerd's event loop once capture runs.
type daemon struct {
	cfg    config // the running configuration; SIGHUP replaces it
	obs    *observed
	p      *pipelines
	sup    *capture.Supervisor
	levels *levelWriter
	notify *sdnotify.Notifier
	log    zerolog.Logger
}

// loop handles signals and systemd until every pipeline has stopped, and
// returns the supervisor's error. It runs in run's goroutine, and it alone
// sends the systemd watchdog its keep-alives, each after checking that the
// pipelines' registry and the supervisor answer: a wedged daemon stops
// petting, and systemd restarts it.
func (d *daemon) loop(ctx context.Context, hup, usr1 <-chan os.Signal) error {
	supDone := make(chan error, 1)
	go func() { supDone <- d.sup.Wait() }()
	d.sdnotify("READY=1", d.notify.Ready)
	_ = d.notify.Status("capturing")
	var petting <-chan time.Time
	if every := d.notify.WatchdogInterval(); every > 0 {
		tick := time.NewTicker(every)
		defer tick.Stop()
		petting = tick.C
		d.log.Info().Dur("every", every).Msg("sending systemd watchdog keep-alives")
	}
	stopping := ctx.Done()
	for {
		select {
		case err := <-supDone:
			if stopping != nil {
				// Stopped by a fatal error, not a signal.
				d.sdnotify("STOPPING=1", d.notify.Stopping)
			}
			return err
		case <-stopping:
			stopping = nil
			d.sdnotify("STOPPING=1", d.notify.Stopping)
			_ = d.notify.Status("stopping: cutting and committing open segments")
			d.log.Info().Msg("stopping: cutting and committing the open segments")
		case <-usr1:
			d.p.triggerSnapshots()
		case <-hup:
			d.reload()
		case <-petting:
			if d.alive() {
				d.sdnotify("WATCHDOG=1", d.notify.Watchdog)
			}
		}
	}
}

// alive is the watchdog's check, run in the event loop: the registry's lock
// and the supervisor's are free, so neither is deadlocked.
func (d *daemon) alive() bool {
	_ = d.p.views()
	_ = d.sup.Running()
	return true
}

// reload rereads the config file (SIGHUP) and applies what it can.
func (d *daemon) reload() {
	if d.cfg.configPath == "" {
		d.log.Warn().Msg("SIGHUP: no --config file to reload; nothing changed")
		return
	}
	d.sdnotify("RELOADING=1", d.notify.Reloading)
	defer d.sdnotify("READY=1", d.notify.Ready)
	next, err := parseArgs(d.cfg.args, io.Discard)
	if err != nil {
		d.log.Error().Err(err).Str("config", d.cfg.configPath).Msg("SIGHUP: config not reloaded, it is not valid; the running settings stay")
		return
	}
	for _, w := range next.warnings {
		d.log.Warn().Msg(w)
	}
	changes := reload(d.cfg, next, daemonTarget{d})
	logReload(d.log, changes)
	// Keep what runs: a setting that needs a restart is not in effect, and
	// is reported again at the next reload.
	d.cfg = applied(d.cfg, next)
	running := d.cfg // a copy: /status reads it from another goroutine
	d.obs.cfg.Store(&running)
}

// applied is the running configuration after a reload: the reloadable
// settings from next, everything else as it was.
func applied(running, next config) config {
	out := running
	ov, nv := reflect.ValueOf(&out.fileConfig).Elem(), reflect.ValueOf(next.fileConfig)
	for i := range nv.NumField() {
		if reloadable[yamlKey(nv.Type().Field(i))] {
			ov.Field(i).Set(nv.Field(i))
		}
	}
	out.file, out.warnings = next.file, nil
	return out
}

type daemonTarget struct{ d *daemon }

func (t daemonTarget) setLogLevel(l zerolog.Level)   { t.d.levels.set(l) }
func (t daemonTarget) setCycleConfig(c cycle.Config) { t.d.p.setCycleConfig(c) }

func (d *daemon) sdnotify(what string, send func() error) {
	if err := send(); err != nil {
		d.log.Warn().Err(err).Str("state", what).Msg("could not notify systemd")
	}
}
