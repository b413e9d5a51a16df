package progress

import (
	"bytes"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// fakeClock advances one second per reading, so rates and redraw
// throttling are deterministic.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

func TestLogsEveryTenth(t *testing.T) {
	var buf bytes.Buffer
	d := Logs(zerolog.New(&buf))
	d.now = (&fakeClock{}).now
	m := d.Phase("loading snapshot", 1000, "docs")
	for i := 0; i < 1000; i++ {
		m.Add(1)
	}
	m.Finish()
	m.Finish() // a second Finish adds nothing
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 11 {
		t.Fatalf("%d log lines for 1000 units, want 10 (every 10%%) and a final one:\n%s", len(lines), buf.String())
	}
	if !strings.Contains(lines[5], `"percent":50`) || !strings.Contains(lines[10], `"docs":1000`) || !strings.Contains(lines[10], "done") {
		t.Errorf("lines do not say how far:\n%s", buf.String())
	}
}

func TestUnknownTotalLogsSparsely(t *testing.T) {
	var buf bytes.Buffer
	d := Logs(zerolog.New(&buf))
	m := d.Phase("replaying", 0, "entries")
	for i := 0; i < 1<<16; i++ {
		m.Add(1)
	}
	if n := strings.Count(buf.String(), "\n"); n > 20 {
		t.Errorf("%d lines for 65536 units of unknown total, want few", n)
	}
}

func TestBarRedrawsInPlace(t *testing.T) {
	var buf bytes.Buffer
	d := &Display{w: &buf, now: (&fakeClock{}).now}
	m := d.Phase("replaying", 200, "entries")
	m.Add(50)
	m.Add(50)
	m.Finish()
	out := buf.String()
	if strings.Count(out, "\r") != 3 || !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 {
		t.Fatalf("bar output %q: want 3 redraws on one line, ended by a newline", out)
	}
	last := out[strings.LastIndex(out, "\r")+1:]
	if !strings.Contains(last, "[###############---------------]  50% 100/200 entries") {
		t.Errorf("last redraw %q does not show half done", last)
	}
	if !strings.Contains(last, "entries/s") || !strings.Contains(last, "ETA") {
		t.Errorf("last redraw %q shows no rate or ETA", last)
	}
}

func TestConcurrentAddsAllCount(t *testing.T) {
	var buf bytes.Buffer
	d := Logs(zerolog.New(&buf))
	m := d.Phase("loading", 0, "docs")
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				m.Add(1)
			}
		}()
	}
	wg.Wait()
	m.Finish()
	if !strings.Contains(buf.String(), `"docs":8000`) {
		t.Errorf("final line does not count 8000:\n%s", buf.String())
	}
}

func TestNilDisplayIsQuiet(t *testing.T) {
	var d *Display
	m := d.Phase("x", 10, "docs")
	m.Add(5)
	m.Finish()
}

func TestFileIsNotATerminal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsTerminal(f) {
		t.Error("a regular file counted as a terminal: bars would fill logs with \\r lines")
	}
}

func TestTotalsAddsTheDifference(t *testing.T) {
	var buf bytes.Buffer
	m := Logs(zerolog.New(&buf)).Phase("loading", 0, "docs")
	add := m.Totals()
	add("a.x", 100)
	add("a.y", 50)
	add("a.x", 300) // 200 more
	m.Finish()
	if !strings.Contains(buf.String(), `"docs":350`) {
		t.Errorf("running totals 300 + 50 gave:\n%s", buf.String())
	}
}
