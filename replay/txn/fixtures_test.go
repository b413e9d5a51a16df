package txn

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/oplog"
)

// The mongo-tools transaction fixtures: hand-built scenarios, each a list of
// oplog entries and the state of one collection after applying them.
var scenarioFiles = []string{
	"mongo-tools/common/txn/testdata/oplog_entries.json",
	"mongo-tools/mongorestore/testdata/transactions.json",
	"mongo-tools/mongorestore/testdata/transactions-6.1.json", // $v:2 diff updates
}

// scenarioWant is what each scenario implies, written out by hand from the
// fixture: the action per entry, the operations applied (op:_id), the ts they
// take effect at (i of Timestamp(1515616500, i) unless noted), the commit's
// commitTimestamp, and what stays open.
var scenarioWant = map[string]struct {
	kinds    string
	ops      string
	at       oplog.Timestamp
	commitTS oplog.Timestamp // zero: equals at
	dropped  int             // operations discarded by an abort
	pending  int             // transactions still open at the end
	prepared bool            // ... and whether the open one is prepared
}{
	"not transaction":          {kinds: "apply", ops: "i:0", at: fts(1)},
	"applyops not transaction": {kinds: "apply", ops: "i:0 u:0", at: fts(1)},
	"small, unprepared":        {kinds: "commit", ops: "i:0 u:0 d:1", at: fts(1)},
	"large, unprepared": {kinds: "absorb absorb commit", ops: "i:0 i:1 i:2 i:3 i:4 i:5",
		at: fts(3)},
	"small, prepared, committed": {kinds: "absorb commit", ops: "i:0 i:1 u:0 d:1",
		at: fts(20), commitTS: fts(11)},
	"small, prepared, aborted": {kinds: "absorb abort", dropped: 5},
	// The commit's prevOpTime points at the first entry here (hand-built),
	// at the prepare entry on real servers: both must work.
	"large, prepared, committed": {kinds: "absorb absorb absorb commit",
		ops: "i:0 i:1 i:2 i:3 i:4 i:5 i:6 i:7 i:8 i:9", at: fts(20), commitTS: fts(11)},
	"large, prepared, aborted":                            {kinds: "absorb absorb absorb abort", dropped: 9},
	"large, unprepared, incomplete":                       {kinds: "absorb absorb", pending: 1},
	"small, prepared, incomplete":                         {kinds: "absorb", pending: 1, prepared: true},
	"not transaction with lsid":                           {kinds: "apply", ops: "i:0", at: fts(1)},
	"not transaction with lsid and txnNumber":             {kinds: "apply", ops: "i:0", at: fts(1)},
	"not transaction with lsid and txnNumber and command": {kinds: "apply", ops: "c:createIndexes", at: fts(1)},
	"not transaction with multiOpType": {kinds: "apply", ops: "i:4 i:5",
		at: oplog.Timestamp{T: 1609800491, I: 1}},
}

func fts(i uint32) oplog.Timestamp { return oplog.Timestamp{T: 1515616500, I: i} }

type scenario struct {
	name      string
	entries   []bson.Raw
	ns        string
	postimage []bson.Raw
}

func loadScenarios(t testing.TB, file string) []scenario {
	t.Helper()
	data, err := os.ReadFile(fixture(t, file))
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]struct {
		Ops       []json.RawMessage `json:"ops"`
		NS        string            `json:"ns"`
		Postimage []json.RawMessage `json:"postimage"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var out []scenario
	for name, r := range raw {
		sc := scenario{name: name, ns: r.NS}
		for _, o := range r.Ops {
			sc.entries = append(sc.entries, extJSON(t, string(o)))
		}
		for _, p := range r.Postimage {
			sc.postimage = append(sc.postimage, extJSON(t, string(p)))
		}
		out = append(out, sc)
	}
	slices.SortFunc(out, func(a, b scenario) int { return strings.Compare(a.name, b.name) })
	return out
}

// TestMongoToolsScenarios feeds every scenario of the three fixture files,
// checks the actions and emitted operations against scenarioWant, applies
// the operations to the model and compares with the postimage. It runs each
// twice: in memory, and with a 1-byte memory bound so that every buffered
// transaction goes through a spill file.
func TestMongoToolsScenarios(t *testing.T) {
	for _, file := range scenarioFiles {
		for _, sc := range loadScenarios(t, file) {
			for _, mode := range []struct {
				name   string
				maxMem int64
			}{{"memory", 0}, {"spill", 1}} {
				t.Run(filepath.Base(file)+"/"+sc.name+"/"+mode.name, func(t *testing.T) {
					runScenario(t, sc, mode.maxMem)
				})
			}
		}
	}
}

func runScenario(t *testing.T, sc scenario, maxMem int64) {
	want, ok := scenarioWant[sc.name]
	if !ok {
		t.Fatalf("no expectation written for scenario %q", sc.name)
	}
	dir := t.TempDir()
	b := New(Options{MaxMemory: maxMem, SpillDir: dir})
	defer b.Close()
	steps := feed(t, b, sc.entries)

	if got := kinds(steps); got != want.kinds {
		t.Errorf("actions %q, want %q", got, want.kinds)
	}
	ops := allOps(steps)
	if got := summary(ops); got != want.ops {
		t.Errorf("applied %q, want %q", got, want.ops)
	}
	for _, s := range steps {
		a := s.act
		switch a.Kind {
		case Apply, Commit:
			if a.TS != want.at {
				t.Errorf("%s at %s, want at %s", a.Kind, a.TS, want.at)
			}
			wantCommit := want.commitTS
			if wantCommit.IsZero() {
				wantCommit = want.at
			}
			if a.CommitTimestamp != wantCommit {
				t.Errorf("%s commitTimestamp %s, want %s", a.Kind, a.CommitTimestamp, wantCommit)
			}
			if first, _ := oplog.EntryTS(sc.entries[0]); a.Kind == Commit && a.StartTS != first {
				t.Errorf("commit StartTS %s, want the first entry's", a.StartTS)
			}
		case Abort:
			if a.Count != want.dropped {
				t.Errorf("abort dropped %d, want %d", a.Count, want.dropped)
			}
		}
	}
	pending := b.Pending()
	if len(pending) != want.pending {
		t.Fatalf("pending %v, want %d open", pending, want.pending)
	}
	if want.pending > 0 {
		p := pending[0]
		first, _ := oplog.EntryTS(sc.entries[0])
		if p.FirstTS != first || p.Prepared != want.prepared || p.Entries != len(sc.entries) {
			t.Errorf("pending %+v, want first %s, prepared %v, %d entries", p, first, want.prepared, len(sc.entries))
		}
		if oldest, ok := b.OldestOpen(); !ok || oldest != first {
			t.Errorf("OldestOpen = %s, %v; want %s", oldest, ok, first)
		}
		if !strings.Contains(p.ID.String(), "txnNumber 1") {
			t.Errorf("pending ID %q does not name the txnNumber", p.ID)
		}
	} else if _, ok := b.OldestOpen(); ok {
		t.Error("OldestOpen reports an open transaction")
	}

	// The emitted operations, applied, give the postimage.
	m := model{}
	for _, op := range ops {
		m.apply(t, op)
	}
	var wantState []string
	for _, p := range sc.postimage {
		wantState = append(wantState, canonical(t, decode(t, p)))
	}
	slices.Sort(wantState)
	if got := m.state(t, sc.ns); !slices.Equal(got, wantState) {
		t.Errorf("state of %s:\n got  %v\n want %v", sc.ns, got, wantState)
	}

	// Inner operations are self-contained: the fixture's inner fields, plus
	// the applying entry's ts and t.
	for _, op := range ops {
		for _, f := range []string{"op", "ns", "o"} {
			if _, err := op.LookupErr(f); err != nil {
				t.Errorf("op without %s: %s", f, op)
			}
		}
	}

	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if files := spillFiles(t, dir); len(files) != 0 {
		t.Errorf("spill files left after Close: %v", files)
	}
	if maxMem == 1 && want.pending == 0 && strings.Contains(want.kinds, "absorb") && b.Stats().Spilled == 0 {
		t.Error("a 1-byte bound buffered a transaction without spilling it")
	}
}
