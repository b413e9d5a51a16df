package capture

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tidelog/tidelog/topology"
)

// fakes records pipeline starts and lets a test make one fail.
type fakes struct {
	mu      sync.Mutex
	starts  map[string][]string // name: URIs it was started with
	running map[string]bool
	fail    map[string]error // returned at once by the next runs of name
}

func newFakes() *fakes {
	return &fakes{starts: map[string][]string{}, running: map[string]bool{}, fail: map[string]error{}}
}

func (f *fakes) run(ctx context.Context, rs topology.ReplicaSet) error {
	f.mu.Lock()
	f.starts[rs.Name] = append(f.starts[rs.Name], rs.URI)
	err := f.fail[rs.Name]
	if err == nil {
		f.running[rs.Name] = true
	}
	f.mu.Unlock()
	if err != nil {
		return err
	}
	<-ctx.Done()
	f.mu.Lock()
	f.running[rs.Name] = false
	f.mu.Unlock()
	return nil
}

func (f *fakes) state(name string) (starts int, running bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.starts[name]), f.running[name]
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10s: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func rs(name, uri string) topology.ReplicaSet {
	return topology.ReplicaSet{Name: name, Role: topology.RoleShard, URI: uri}
}

func TestStartsStopsAndReconnects(t *testing.T) {
	f := newFakes()
	s := New(t.Context(), f.run, nil, zerolog.Nop())
	s.Apply(topology.Changes{Added: []topology.ReplicaSet{rs("cfg", "u0"), rs("sh1", "u1"), rs("sh2", "u2")}})
	for _, n := range []string{"cfg", "sh1", "sh2"} {
		waitFor(t, n+" running", func() bool { _, r := f.state(n); return r })
	}

	s.Apply(topology.Changes{Removed: []topology.ReplicaSet{rs("sh2", "u2")}})
	if _, r := f.state("sh2"); r {
		t.Error("sh2 still running after Apply removed it: its pipeline must have stopped (cut) before Apply returns")
	}

	draining := rs("sh1", "u1")
	draining.Draining = true
	moved := rs("cfg", "u0-new")
	s.Apply(topology.Changes{Changed: []topology.ReplicaSet{draining, moved}})
	waitFor(t, "cfg restarted", func() bool { n, r := f.state("cfg"); return n == 2 && r })
	if n, _ := f.state("sh1"); n != 1 {
		t.Errorf("sh1 started %d times: draining alone must not restart its capture", n)
	}
	f.mu.Lock()
	if got := f.starts["cfg"]; !slices.Equal(got, []string{"u0", "u0-new"}) {
		t.Errorf("cfg started with %v, want the old then the new URI", got)
	}
	f.mu.Unlock()
	running := s.Running()
	slices.Sort(running)
	if !slices.Equal(running, []string{"cfg", "sh1"}) {
		t.Errorf("Running = %v", running)
	}
	s.Stop()
	if err := s.Wait(); err != nil {
		t.Errorf("Wait after Stop = %v, want nil", err)
	}
}

func TestFailedPipelineRestartsOthersGoOn(t *testing.T) {
	f := newFakes()
	f.fail["sh1"] = errors.New("shard down")
	s := New(t.Context(), f.run, nil, zerolog.Nop())
	s.retry = time.Millisecond
	s.Apply(topology.Changes{Added: []topology.ReplicaSet{rs("sh1", "u1"), rs("sh2", "u2")}})
	waitFor(t, "sh1 retried", func() bool { n, _ := f.state("sh1"); return n >= 3 })
	f.mu.Lock()
	delete(f.fail, "sh1") // the shard is back
	f.mu.Unlock()
	waitFor(t, "sh1 running after recovery", func() bool { _, r := f.state("sh1"); return r })
	if n, r := f.state("sh2"); n != 1 || !r {
		t.Errorf("sh2: %d starts, running %v; a failing neighbour must not disturb it", n, r)
	}
	s.Stop()
	if err := s.Wait(); err != nil {
		t.Error(err)
	}
}

var errGap = errors.New("gap in the oplog")

func TestFatalErrorStopsEverything(t *testing.T) {
	f := newFakes()
	s := New(t.Context(), f.run, func(err error) bool { return errors.Is(err, errGap) }, zerolog.Nop())
	s.Apply(topology.Changes{Added: []topology.ReplicaSet{rs("sh1", "u1")}})
	waitFor(t, "sh1 running", func() bool { _, r := f.state("sh1"); return r })
	f.mu.Lock()
	f.fail["sh2"] = errGap
	f.mu.Unlock()
	s.Apply(topology.Changes{Added: []topology.ReplicaSet{rs("sh2", "u2")}})
	err := s.Wait()
	if !errors.Is(err, errGap) || !strings.Contains(err.Error(), "sh2") {
		t.Fatalf("Wait = %v, want the gap of sh2", err)
	}
	if _, r := f.state("sh1"); r {
		t.Error("sh1 still running after a fatal error elsewhere")
	}
	s.Apply(topology.Changes{Added: []topology.ReplicaSet{rs("sh3", "u3")}})
	if n, _ := f.state("sh3"); n != 0 {
		t.Error("a stopped supervisor started a new pipeline")
	}
}
