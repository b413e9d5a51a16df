package txn

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/oplog"
)

const pbmPitr = "percona-backup-mongodb/_decoded/e2e-tests/docker/backups/pbm_disttxn_4x/pbmPitr"

// TestPBMDistributedTransaction: the real PSMDB 4.4 capture of one
// distributed transaction that deleted two documents on each shard. Each
// shard's oplog holds a prepare applyOps and, later, commitTransaction
// (prevOpTime -> the prepare); the operations must come out once, at the
// commit entry's ts, with the cluster's commitTimestamp.
func TestPBMDistributedTransaction(t *testing.T) {
	cases := []struct {
		file                      string
		prepare, commit, commitTS oplog.Timestamp
		ops                       string
	}{
		{
			file:    "rs1/20220209/20220209124238-19.20220209124447-1.oplog.snappy.jsonl",
			prepare: oplog.Timestamp{T: 1644410656, I: 4}, commit: oplog.Timestamp{T: 1644410656, I: 8},
			commitTS: oplog.Timestamp{T: 1644410656, I: 6},
			ops:      "d:6203b6a412e66d429d4c8363 d:6203b6a412e66d429d4c8365",
		},
		{
			file:    "rs2/20220209/20220209124238-19.20220209124443-1.oplog.snappy.jsonl",
			prepare: oplog.Timestamp{T: 1644410656, I: 6}, commit: oplog.Timestamp{T: 1644410656, I: 9},
			commitTS: oplog.Timestamp{T: 1644410656, I: 6},
			ops:      "d:6203b6a412e66d429d4c8364 d:6203b6a412e66d429d4c8366",
		},
	}
	for _, c := range cases {
		t.Run(strings.SplitN(c.file, "/", 2)[0], func(t *testing.T) {
			entries := readJSONL(t, fixture(t, pbmPitr, c.file))
			b := New(Options{SpillDir: t.TempDir()})
			defer b.Close()
			steps := feed(t, b, entries)
			var commits []step
			for _, s := range steps {
				a := s.act
				switch a.Kind {
				case Commit:
					commits = append(commits, s)
				case Absorb:
					if a.TS != c.prepare || !a.Prepared {
						t.Errorf("absorbed %s (prepared %v), want only the prepare at %s", a.TS, a.Prepared, c.prepare)
					}
				case Apply:
				default:
					t.Errorf("unexpected %s at %s", a.Kind, a.TS)
				}
			}
			if len(commits) != 1 {
				t.Fatalf("%d commits, want 1", len(commits))
			}
			cm := commits[0]
			if cm.act.TS != c.commit || cm.act.CommitTimestamp != c.commitTS || cm.act.StartTS != c.prepare || !cm.act.Prepared {
				t.Errorf("commit %+v, want at %s, commitTimestamp %s, started %s", cm.act, c.commit, c.commitTS, c.prepare)
			}
			if got := summary(cm.ops); got != c.ops {
				t.Errorf("committed %q, want %q", got, c.ops)
			}
			for _, op := range cm.ops {
				// Sharded collection: the delete key is shard key + _id.
				if ns := op.Lookup("ns").StringValue(); ns != "trx.test" {
					t.Errorf("op on %s", ns)
				}
				if _, ok := op.Lookup("o", "idx").DoubleOK(); !ok {
					t.Errorf("delete lost its shard key: %s", op)
				}
				if _, _, ok := op.Lookup("ui").BinaryOK(); !ok {
					t.Errorf("op lost its ui: %s", op)
				}
				if _, err := op.LookupErr("wall"); err != nil {
					t.Errorf("op has no wall: %s", op)
				}
			}
			if p := b.Pending(); len(p) != 0 {
				t.Errorf("pending at the end: %+v", p)
			}
			if !strings.Contains(cm.act.Txn.String(), "f7ad867d-f9a4-444c-bf5f-7185e7038d6e txnNumber 0") {
				t.Errorf("ID renders as %q", cm.act.Txn)
			}
		})
	}
}

// TestPBMPrepareOnly: a replay that stops between prepare and commit (--to
// at the prepare) applies nothing of the transaction and reports it open,
// with the prepare as its start.
func TestPBMPrepareOnly(t *testing.T) {
	entries := readJSONL(t, fixture(t, pbmPitr, "rs1/20220209/20220209124238-19.20220209124447-1.oplog.snappy.jsonl"))
	to := oplog.Timestamp{T: 1644410656, I: 7}
	b := New(Options{SpillDir: t.TempDir()})
	defer b.Close()
	var kept []bson.Raw
	for _, e := range entries {
		if ts, _ := oplog.EntryTS(e); ts.After(to) {
			break
		}
		kept = append(kept, e)
	}
	for _, s := range feed(t, b, kept) {
		if s.act.Kind == Commit {
			t.Fatalf("commit at %s before --to %s", s.act.TS, to)
		}
	}
	p := b.Pending()
	if len(p) != 1 || !p[0].Prepared || p[0].FirstTS != (oplog.Timestamp{T: 1644410656, I: 4}) || p[0].Ops != 2 {
		t.Fatalf("pending %+v, want the prepared transaction of 2 ops started at 1644410656.4", p)
	}
}

// TestVectoredInserts: 8.0 vectored inserts are applyOps with lsid,
// txnNumber, a prevOpTime chain and multiOpType 1. They are not transactions:
// each entry's inserts apply at once, at that entry's ts, keeping o2 and
// stmtId.
func TestVectoredInserts(t *testing.T) {
	cases := []struct {
		file  string
		kinds string
		ops   []string // per entry
	}{
		{"vectored_insert.bson", "apply", []string{"i:100 i:200"}},
		{"linked_vectored_inserts.bson", "apply apply", []string{"i:300 i:400 i:500", "i:600 i:700"}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			entries := readBSONFile(t, fixture(t, "mongo-tools/mongorestore/testdata/oplogs/bson", c.file))
			b := New(Options{MaxMemory: 1, SpillDir: t.TempDir()})
			defer b.Close()
			steps := feed(t, b, entries)
			if got := kinds(steps); got != c.kinds {
				t.Fatalf("actions %q, want %q", got, c.kinds)
			}
			for i, s := range steps {
				if got := summary(s.ops); got != c.ops[i] {
					t.Errorf("entry %d applied %q, want %q", i, got, c.ops[i])
				}
				for _, op := range s.ops {
					if _, err := op.LookupErr("o2", "_id"); err != nil {
						t.Errorf("insert lost o2: %s", op)
					}
					if _, err := op.LookupErr("stmtId"); err != nil {
						t.Errorf("insert lost stmtId: %s", op)
					}
				}
			}
			if s := b.Stats(); s.Open != 0 || s.Spilled != 0 {
				t.Errorf("vectored inserts were buffered: %+v", s)
			}
		})
	}
}

// TestUserApplyOps36: a 3.6 user applyOps whose inner operations carry their
// own ts, h and v. They apply at once, in order, at the applyOps entry's ts
// (all or nothing with respect to a --to cut), without the stale fields.
func TestUserApplyOps36(t *testing.T) {
	entries := readBSONFile(t, fixture(t, "mongo-tools/mongorestore/testdata/oplogdump/oplog.bson"))
	b := New(Options{})
	defer b.Close()
	steps := feed(t, b, entries)
	if got := kinds(steps); got != "apply apply apply" {
		t.Fatalf("actions %q", got)
	}
	mid := steps[1]
	if mid.act.Count != 3 || mid.act.TS != (oplog.Timestamp{T: 1511064038, I: 29}) {
		t.Fatalf("applyOps: %+v", mid.act)
	}
	for _, op := range mid.ops {
		if v, ok := op.Lookup("v").AsInt64OK(); !ok || v != 2 {
			t.Errorf("op v = %s, want the outer entry's 2", op.Lookup("v"))
		}
	}
	// The ordinary entries come out as they went in.
	if !bytesEqual(steps[0].ops[0], entries[0]) || !bytesEqual(steps[2].ops[0], entries[2]) {
		t.Error("a plain entry was altered")
	}
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }

// TestEveryFixtureOplog feeds every oplog capture of the fixture tree (BSON
// originals, and PBM's decoded copies) through one Buffer each: no errors,
// nothing left open, every entry accounted for.
func TestEveryFixtureOplog(t *testing.T) {
	var files []string
	root := fixture(t)
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case strings.HasPrefix(rel, "mongo-tools/") && !strings.Contains(rel, "_decoded") &&
			strings.HasSuffix(rel, ".bson") && (strings.Contains(filepath.Base(rel), "oplog") || strings.Contains(rel, "oplogs/bson/")):
			files = append(files, rel)
		case strings.HasPrefix(rel, "percona-backup-mongodb/_decoded/") && strings.Contains(rel, ".oplog."):
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 25 {
		t.Fatalf("found only %d oplog files: %v", len(files), files)
	}
	for _, rel := range files {
		t.Run(rel, func(t *testing.T) {
			var entries []bson.Raw
			if strings.HasSuffix(rel, ".jsonl") {
				entries = readJSONL(t, filepath.Join(root, rel))
			} else {
				entries = readBSONFile(t, filepath.Join(root, rel))
			}
			b := New(Options{MaxMemory: 64, SpillDir: t.TempDir()})
			defer b.Close()
			steps := feed(t, b, entries)
			if len(steps) != len(entries) {
				t.Fatalf("%d actions for %d entries", len(steps), len(entries))
			}
			if p := b.Pending(); len(p) != 0 {
				t.Errorf("open at the end: %+v", p)
			}
		})
	}
}
