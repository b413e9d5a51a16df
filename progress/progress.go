// Package progress shows how far a long job (loading a snapshot, replaying
// segments) has come: a bar redrawn in place when a person watches a
// terminal, and a log line every tenth of the way otherwise, so that a
// systemd journal or a CI log gets a few lines, not thousands.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Display is where a job's phases report. The zero value is not usable;
// a nil *Display logs nothing and draws nothing.
type Display struct {
	w   io.Writer // the terminal; nil: log lines only
	log zerolog.Logger
	now func() time.Time
}

// New returns a Display that draws bars on w when w is a terminal and
// logs through log otherwise.
func New(w *os.File, log zerolog.Logger) *Display {
	d := &Display{log: log, now: time.Now}
	if IsTerminal(w) {
		d.w = w
	}
	return d
}

// Logs returns a Display that only logs.
func Logs(log zerolog.Logger) *Display { return &Display{log: log, now: time.Now} }

// IsTerminal reports whether f is a character device, as a terminal is (a
// file, pipe or /dev/null redirect is not), without a dependency for it.
func IsTerminal(f *os.File) bool {
	if f == nil {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0 && fi.Mode()&os.ModeDevice != 0
}

// Meter counts one phase's progress toward a total. Add is safe for
// concurrent use.
type Meter struct {
	d     *Display
	name  string
	unit  string
	total int64 // 0: unknown (no bar, no percent)

	mu       sync.Mutex
	done     int64
	began    time.Time
	drawn    time.Time // last redraw on the terminal
	nextLog  int64     // done at which the next log line is due
	finished bool
}

// redrawEvery bounds terminal redraws: a bar that redraws at every batch
// would cost more than the batches on a slow terminal.
const redrawEvery = 200 * time.Millisecond

// Phase starts a phase of total units (e.g. "loading snapshot", 1e6,
// "docs"). total is an estimate the count may pass; 0 if unknown.
func (d *Display) Phase(name string, total int64, unit string) *Meter {
	m := &Meter{d: d, name: name, unit: unit, total: total}
	if d != nil {
		m.began = d.now()
	}
	return m
}

// Add counts n more units done.
func (m *Meter) Add(n int64) {
	if m == nil || m.d == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.done += n
	now := m.d.now()
	if m.d.w != nil {
		if now.Sub(m.drawn) >= redrawEvery {
			m.drawn = now
			fmt.Fprintf(m.d.w, "\r%s", m.line(now))
		}
		return
	}
	if m.done >= m.nextLog {
		m.logLine(now)
		step := m.total / 10
		if step < 1 {
			step = max(m.done, 1) // unknown total: log at 1, 2, 4, 8... units
		}
		m.nextLog = m.done + step
	}
}

// Finish ends the phase: the bar's final state on its own line, or a last
// log line.
func (m *Meter) Finish() {
	if m == nil || m.d == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.finished {
		return
	}
	m.finished = true
	now := m.d.now()
	if m.d.w != nil {
		fmt.Fprintf(m.d.w, "\r%s\n", m.line(now))
		return
	}
	m.d.log.Info().Str("phase", m.name).Int64(m.unit, m.done).Dur("took", now.Sub(m.began).Round(time.Millisecond)).Msg(m.name + ": done")
}

func (m *Meter) logLine(now time.Time) {
	ev := m.d.log.Info().Str("phase", m.name).Int64(m.unit, m.done)
	if m.total > 0 {
		ev = ev.Int64("of", m.total).Int64("percent", percent(m.done, m.total))
	}
	if rate := m.rate(now); rate > 0 {
		ev = ev.Int64(m.unit+"_per_s", int64(rate))
	}
	ev.Msg(m.name)
}

// line is the bar: "loading snapshot [#####-----]  52% 520000/1000000 docs 41200 docs/s ETA 12s".
func (m *Meter) line(now time.Time) string {
	var b strings.Builder
	b.WriteString(m.name)
	rate := m.rate(now)
	if m.total > 0 {
		const width = 30
		filled := int(min(percent(m.done, m.total), 100) * width / 100)
		fmt.Fprintf(&b, " [%s%s] %3d%% %d/%d %s", strings.Repeat("#", filled), strings.Repeat("-", width-filled),
			percent(m.done, m.total), m.done, m.total, m.unit)
	} else {
		fmt.Fprintf(&b, " %d %s", m.done, m.unit)
	}
	if rate > 0 {
		fmt.Fprintf(&b, " %.0f %s/s", rate, m.unit)
		if m.total > m.done {
			eta := time.Duration(float64(m.total-m.done) / rate * float64(time.Second))
			fmt.Fprintf(&b, " ETA %s", eta.Round(time.Second))
		}
	}
	b.WriteString("\x1b[K") // clear what a longer previous line left
	return b.String()
}

func (m *Meter) rate(now time.Time) float64 {
	secs := now.Sub(m.began).Seconds()
	if secs <= 0 {
		return 0
	}
	return float64(m.done) / secs
}

func percent(done, total int64) int64 {
	if total <= 0 {
		return 0
	}
	return done * 100 / total
}

// Totals returns a func for reporters that give running totals per key
// (the loader: documents so far per namespace) instead of increments. Its
// calls must not overlap.
func (m *Meter) Totals() func(key string, total int64) {
	last := map[string]int64{}
	return func(key string, total int64) {
		m.Add(total - last[key])
		last[key] = total
	}
}
