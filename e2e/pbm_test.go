package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/tidelog/tidelog/dump"
	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/replay"
)

// The PBM fixture is a real logical backup of a sharded Percona Server
// 4.4.12 cluster (config server cfg, shards rs1 and rs2) taken while writes
// ran: per replica set a mongodump archive, the oplog of the backup window
// (which overlaps the dump: replaying it over the dump must be idempotent),
// and the PITR chunks that continue that oplog, with a prepared distributed
// transaction committed on rs1 and rs2.
const pbmBackup = "2022-02-09T12.42.32Z"

func pbmFixture(t *testing.T) string {
	return filepath.Join(fixtures(t), "percona-backup-mongodb", "e2e-tests", "docker", "backups", "pbm_disttxn_4x")
}

// pbmUserNS is the rule for what this test loads from the dumps and
// compares: everything but admin.system.* (the test environment's users,
// roles and the server's version document), config.* (sharding metadata,
// sessions, transaction tables) and local.*. The replay engine leaves out
// every other <db>.system.* too (system.views and system.js aside); the
// fixture has none (pbmCheckSystemNS fails the test if one appears), so the
// two rules agree on this data.
func pbmUserNS(db, coll string) bool {
	switch {
	case db == "local", db == "config":
		return false
	case db == "admin" && strings.HasPrefix(coll, "system."):
		return false
	}
	return true
}

// pbmCheckSystemNS fails on a <db>.system.* namespace outside admin, where
// the rule above and the engine's would part.
func pbmCheckSystemNS(t *testing.T, db, coll string) {
	t.Helper()
	if db != "admin" && db != "config" && db != "local" && strings.HasPrefix(coll, "system.") {
		t.Fatalf("the fixture has %s.%s: the test's namespace rule does not cover it", db, coll)
	}
}

// Per replica set: load the dump into a fresh FerretDB, replay the backup
// oplog and the PITR chunks through the real engine (replay.Replay, Keep),
// and compare every user namespace, document by document, with what an
// independent in-memory model of the same dump and oplog says.
func TestPBMShardedReplayPerShard(t *testing.T) {
	dir := pbmFixture(t)
	meta := pbmReadMeta(t, dir)
	for _, rs := range []string{"cfg", "rs1", "rs2"} {
		t.Run(rs, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			srv := testserver.StartT(t, testserver.Options{NoOplog: true})
			c, err := srv.Client()
			must(t, err)
			defer c.Disconnect(context.Background())

			want := newPBMModel()
			loaded := pbmLoadDump(ctx, t, c, filepath.Join(dir, pbmBackup+"_"+rs+".dump.s2"), want)

			files := pbmOplogFiles(t, dir, rs, meta)
			src, dups := pbmSource(files)
			err = src(func(e bson.Raw) error { return want.apply(t, e) })
			must(t, err)

			log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
			stats, written, err := replay.Replay(ctx, src, c, replay.Options{SpillDir: t.TempDir()}, replay.Keep, log)
			if err != nil {
				t.Fatalf("replay: %v", err)
			}
			t.Logf("dump: %v; oplog files %v (%d duplicate entries at file boundaries skipped); engine: %+v; wrote %v",
				loaded, pbmBase(files), *dups, stats, written)
			if stats.TxnsCommitted != want.committed || stats.OpenTxns != 0 || stats.TxnsAborted != want.aborted {
				t.Errorf("transactions: engine committed %d, aborted %d, left open %d; the model committed %d, aborted %d",
					stats.TxnsCommitted, stats.TxnsAborted, stats.OpenTxns, want.committed, want.aborted)
			}
			if want.misses != 0 || stats.UpdateMisses != 0 {
				t.Errorf("updates of missing documents: model %d, engine %d (the dump and oplog should cover every update)",
					want.misses, stats.UpdateMisses)
			}
			pbmCompare(ctx, t, c, want)
		})
	}
}

// pbmMeta is what the test uses of the backup's *.pbm.json.
type pbmMeta struct {
	LastWrite pbmTS `json:"last_write_ts"`
	Replsets  []struct {
		Name       string `json:"name"`
		FirstWrite pbmTS  `json:"first_write_ts"`
		LastWrite  pbmTS  `json:"last_write_ts"`
	} `json:"replsets"`
}

type pbmTS struct{ T, I uint32 }

func (p pbmTS) ts() oplog.Timestamp { return oplog.Timestamp{T: p.T, I: p.I} }

func pbmReadMeta(t *testing.T, dir string) pbmMeta {
	data, err := os.ReadFile(filepath.Join(dir, pbmBackup+".pbm.json"))
	must(t, err)
	var m pbmMeta
	must(t, json.Unmarshal(data, &m))
	return m
}

// pbmLoadDump inserts every document of every user namespace of the
// archive (creating each user collection of the prelude first, so that
// empty ones exist too, as a restore would leave them) and records the same
// documents in the model. Collections are created without their options:
// the capped ones (admin.pbmLog, pbmCmd, pbmOpLog) stay far below their
// size here, so capping changes nothing, and FerretDB's capped cleanup
// would only add noise. It returns the documents loaded per namespace.
func pbmLoadDump(ctx context.Context, t *testing.T, c *mongo.Client, path string, m *pbmModel) map[string]int {
	t.Helper()
	f, err := os.Open(path)
	must(t, err)
	defer f.Close()
	a, err := dump.OpenArchive(s2.NewReader(f))
	must(t, err)
	for _, coll := range a.Collections {
		pbmCheckSystemNS(t, coll.DB, coll.Collection)
		if coll.IsOplog() || !pbmUserNS(coll.DB, coll.Collection) {
			continue
		}
		must(t, c.Database(coll.DB).CreateCollection(ctx, coll.Collection))
		m.create(coll.String())
	}
	const batchSize = 1000
	pending := map[dump.Namespace][]any{}
	loaded := map[string]int{}
	flush := func(ns dump.Namespace) error {
		docs := pending[ns]
		if len(docs) == 0 {
			return nil
		}
		if _, err := c.Database(ns.DB).Collection(ns.Collection).InsertMany(ctx, docs); err != nil {
			return fmt.Errorf("insert %d documents into %s: %w", len(docs), ns, err)
		}
		loaded[ns.String()] += len(docs)
		pending[ns] = docs[:0]
		return nil
	}
	err = dump.Each(a, func(ns dump.Namespace, doc bson.Raw) error {
		if ns.IsOplog() || !pbmUserNS(ns.DB, ns.Collection) {
			return nil
		}
		doc = append(bson.Raw(nil), doc...)
		if err := m.put(ns.String(), doc); err != nil {
			return err
		}
		pending[ns] = append(pending[ns], doc)
		if len(pending[ns]) >= batchSize {
			return flush(ns)
		}
		return nil
	})
	must(t, err)
	for ns := range pending {
		must(t, flush(ns))
	}
	return loaded
}

// pbmOplogFiles lists the replica set's oplog in order: the backup-window
// oplog, then its PITR chunks by start time. It checks, from the metadata,
// that the backup oplog covers the replica set's [first_write_ts,
// last_write_ts] (it may start earlier: cfg's begins with no-ops before its
// first write) and ends there, and that the first chunk starts at the
// backup's cluster-wide last_write_ts: PBM's contract that they leave no gap.
func pbmOplogFiles(t *testing.T, dir, rs string, meta pbmMeta) []string {
	t.Helper()
	backup := filepath.Join(dir, pbmBackup+"_"+rs+".oplog.s2")
	first, last := pbmFileRange(t, backup)
	found := false
	for _, r := range meta.Replsets {
		if r.Name == rs {
			found = true
			if first.After(r.FirstWrite.ts()) || last != r.LastWrite.ts() {
				t.Fatalf("%s: backup oplog spans %s..%s, the metadata says %s..%s", rs, first, last, r.FirstWrite.ts(), r.LastWrite.ts())
			}
		}
	}
	if !found {
		t.Fatalf("%s is not in the backup metadata", rs)
	}
	chunks, err := filepath.Glob(filepath.Join(dir, "pbmPitr", rs, "*", "*.oplog.snappy"))
	must(t, err)
	if len(chunks) == 0 {
		t.Fatalf("%s: no PITR chunks", rs)
	}
	// Names are <start>.<end>.oplog.snappy with times as 20060102150405-I.
	sort.Slice(chunks, func(i, j int) bool {
		return pbmChunkStart(t, chunks[i]).Before(pbmChunkStart(t, chunks[j]))
	})
	if start := pbmChunkStart(t, chunks[0]); start != meta.LastWrite.ts() {
		t.Fatalf("%s: the first PITR chunk starts at %s, not at the backup's last write %s", rs, start, meta.LastWrite.ts())
	}
	return append([]string{backup}, chunks...)
}

// pbmChunkStart parses the start of a PITR chunk's name.
func pbmChunkStart(t *testing.T, path string) oplog.Timestamp {
	start, _, _ := strings.Cut(filepath.Base(path), ".")
	sec, inc, ok := strings.Cut(start, "-")
	tm, err := time.Parse("20060102150405", sec)
	i, ierr := strconv.ParseUint(inc, 10, 32)
	if !ok || err != nil || ierr != nil {
		t.Fatalf("PITR chunk name %s: cannot parse its start", path)
	}
	return oplog.Timestamp{T: uint32(tm.Unix()), I: uint32(i)}
}

// pbmFileRange returns the ts of the first and last entries of an S2 oplog file.
func pbmFileRange(t *testing.T, path string) (first, last oplog.Timestamp) {
	t.Helper()
	n := 0
	must(t, pbmReadOplog(path, func(e bson.Raw) error {
		ts, err := oplog.EntryTS(e)
		if n == 0 {
			first = ts
		}
		last = ts
		n++
		return err
	}))
	if n == 0 {
		t.Fatalf("%s is empty", path)
	}
	return first, last
}

// pbmReadOplog calls fn for every entry of an S2-compressed BSON oplog file.
func pbmReadOplog(path string, fn func(bson.Raw) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := dump.NewBSONReader(s2.NewReader(f), path)
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
	}
}

// pbmSource concatenates the files into one oplog in ts order. PBM chunk
// boundaries are inclusive: the last entry of one file may be the first of
// the next (cfg's backup oplog and PITR chunk share 1644410558.19). Such an
// entry is passed once, after checking the two copies are byte-identical;
// any other step back in ts is an error. dups counts the copies skipped by
// the latest call of the source.
func pbmSource(files []string) (replay.Source, *int) {
	dups := new(int)
	return func(fn func(bson.Raw) error) error {
		*dups = 0
		var last oplog.Timestamp
		var prev []byte
		for _, path := range files {
			err := pbmReadOplog(path, func(e bson.Raw) error {
				ts, err := oplog.EntryTS(e)
				if err != nil {
					return fmt.Errorf("%s: %w", path, err)
				}
				if prev != nil {
					switch ts.Compare(last) {
					case -1:
						return fmt.Errorf("%s: entry %s comes after %s", path, ts, last)
					case 0:
						if !bytes.Equal(e, prev) {
							return fmt.Errorf("%s: two different entries at %s", path, ts)
						}
						*dups++
						return nil
					}
				}
				last, prev = ts, append(prev[:0], e...)
				return fn(e)
			})
			if err != nil {
				return err
			}
		}
		return nil
	}, dups
}

func pbmBase(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = filepath.Base(p)
	}
	return out
}

// pbmCompare compares the target with the model: the same user namespaces,
// and in each the same documents, as canonical Extended JSON per _id.
func pbmCompare(ctx context.Context, t *testing.T, c *mongo.Client, want *pbmModel) {
	t.Helper()
	have := map[string]bool{}
	dbs, err := c.ListDatabaseNames(ctx, bson.D{})
	must(t, err)
	for _, db := range dbs {
		names, err := c.Database(db).ListCollectionNames(ctx, bson.D{})
		must(t, err)
		for _, coll := range names {
			if pbmUserNS(db, coll) {
				have[db+"."+coll] = true
			}
		}
	}
	all := map[string]bool{}
	for ns := range have {
		all[ns] = true
	}
	for ns := range want.colls {
		all[ns] = true
	}
	nss := make([]string, 0, len(all))
	for ns := range all {
		nss = append(nss, ns)
	}
	sort.Strings(nss)
	if len(want.colls) == 0 {
		t.Fatal("the model holds no namespace: the fixture exercises nothing")
	}
	for _, ns := range nss {
		docs, inModel := want.colls[ns]
		switch {
		case !have[ns]:
			t.Errorf("%s: missing on the target; the model has it with %d documents", ns, len(docs))
			continue
		case !inModel:
			t.Errorf("%s: on the target, but the model dropped it or never had it; target documents: %v", ns, targetState(t, c, ns))
			continue
		}
		got := targetState(t, c, ns)
		wantDocs := map[string]string{}
		for id, d := range docs {
			raw, err := bson.Marshal(d)
			must(t, err)
			wantDocs[id] = bson.Raw(raw).String()
		}
		diffs := 0
		for id, w := range wantDocs {
			g, ok := got[id]
			switch {
			case !ok:
				t.Errorf("%s _id %s: missing on the target\n  want %s", ns, id, w)
				diffs++
			case g != w:
				t.Errorf("%s _id %s differs:\n  got  %s\n  want %s", ns, id, g, w)
				diffs++
			}
		}
		for id, g := range got {
			if _, ok := wantDocs[id]; !ok {
				t.Errorf("%s _id %s: on the target, not in the model\n  got %s", ns, id, g)
				diffs++
			}
		}
		t.Logf("%s: %d documents compared, %d differences", ns, len(wantDocs), diffs)
	}
	var dropped []string
	for ns := range want.dropped {
		dropped = append(dropped, ns)
	}
	sort.Strings(dropped)
	t.Logf("dropped by the oplog, absent from the target as they should be: %v", dropped)
}

// pbmModel is the expected state, computed without the engine: ns → _id
// (canonical Extended JSON) → document. It is deliberately naive, and
// correct for this data: inserts upsert, deletes delete by _id, updates are
// $v:1 $set/$unset (dotted paths, array indexes) or replacements,
// transactions apply their operations at commitTransaction (prepared) or at
// their applyOps entry (unprepared), create and drop change the namespace
// set. Anything else fails the test rather than being guessed at.
type pbmModel struct {
	colls              map[string]map[string]bson.D
	dropped            map[string]bool       // namespaces the oplog dropped (and did not create again)
	prepared           map[string][]bson.Raw // prepared transactions by lsid.id + txnNumber
	committed, aborted uint64
	misses             int // updates whose document was absent
}

func newPBMModel() *pbmModel {
	return &pbmModel{colls: map[string]map[string]bson.D{}, dropped: map[string]bool{}, prepared: map[string][]bson.Raw{}}
}

func (m *pbmModel) create(ns string) {
	if m.colls[ns] == nil {
		m.colls[ns] = map[string]bson.D{}
	}
	delete(m.dropped, ns)
}

// put stores doc under its _id, replacing any previous version. It fails
// if bson.D does not round-trip the document byte for byte, so that the
// model's representation cannot hide a difference.
func (m *pbmModel) put(ns string, doc bson.Raw) error {
	id, err := doc.LookupErr("_id")
	if err != nil {
		return fmt.Errorf("model: %s document without _id: %s", ns, doc)
	}
	var d bson.D
	if err := bson.Unmarshal(doc, &d); err != nil {
		return fmt.Errorf("model: %s: %w", ns, err)
	}
	back, err := bson.Marshal(d)
	if err != nil || !bytes.Equal(back, doc) {
		return fmt.Errorf("model: %s _id %s does not round-trip through bson.D (%v)", ns, id, err)
	}
	m.create(ns)
	m.colls[ns][id.String()] = d
	return nil
}

// apply applies one oplog entry (or one operation of a transaction).
func (m *pbmModel) apply(t *testing.T, e bson.Raw) error {
	op, _ := e.Lookup("op").StringValueOK()
	ns, _ := e.Lookup("ns").StringValueOK()
	db, coll, _ := strings.Cut(ns, ".")
	if op != "n" && op != "c" {
		pbmCheckSystemNS(t, db, coll)
		if !pbmUserNS(db, coll) {
			return nil
		}
	}
	o, ok := e.Lookup("o").DocumentOK()
	if !ok {
		return fmt.Errorf("model: entry without o: %s", e)
	}
	switch op {
	case "n":
		return nil
	case "i":
		return m.put(ns, o)
	case "d":
		id, err := o.LookupErr("_id")
		if err != nil {
			return fmt.Errorf("model: delete without _id: %s", e)
		}
		delete(m.colls[ns], id.String())
		return nil
	case "u":
		return m.update(ns, o, e)
	case "c":
		return m.command(t, db, o, e)
	}
	return fmt.Errorf("model: op %q not modelled: %s", op, e)
}

// update applies a $v:1 modifier update or a replacement.
func (m *pbmModel) update(ns string, o, e bson.Raw) error {
	id, err := e.LookupErr("o2", "_id")
	if err != nil {
		return fmt.Errorf("model: update without o2._id: %s", e)
	}
	doc, ok := m.colls[ns][id.String()]
	if !ok {
		m.misses++
		return nil
	}
	elems, err := o.Elements()
	if err != nil {
		return err
	}
	modifier := false
	for _, el := range elems {
		if el.Key() != "$v" {
			modifier = strings.HasPrefix(el.Key(), "$")
			break
		}
	}
	if !modifier { // a replacement: the whole new document (with _id, as 4.4 logs it)
		if _, err := o.LookupErr("_id"); err != nil {
			return fmt.Errorf("model: replacement without _id: %s", e)
		}
		return m.put(ns, o)
	}
	if v, err := o.LookupErr("$v"); err == nil {
		if n, ok := v.AsInt64OK(); !ok || n != 1 {
			return fmt.Errorf("model: update format $v:%v not modelled: %s", v, e)
		}
	}
	for _, el := range elems {
		switch el.Key() {
		case "$v":
		case "$set", "$unset":
			fields, err := el.Value().Document().Elements()
			if err != nil {
				return err
			}
			var prev []string
			for _, f := range fields {
				path := strings.Split(f.Key(), ".")
				// 4.4 applies a $v:1 update's fields sorted by path and logs them
				// in that order; new fields are appended in it. Applying in log
				// order is that order only if the log is sorted: check it.
				if prev != nil && !pathLess(prev, path) {
					return fmt.Errorf("model: %s paths not in sorted order (%v before %v): field order unknown: %s", el.Key(), prev, path, e)
				}
				prev = path
				if el.Key() == "$unset" {
					doc = pbmUnset(doc, path)
					continue
				}
				var v any
				if err := f.Value().Unmarshal(&v); err != nil {
					return err
				}
				if doc, err = pbmSetDoc(doc, path, v); err != nil {
					return fmt.Errorf("model: $set %s: %w: %s", f.Key(), err, e)
				}
			}
		default:
			return fmt.Errorf("model: update operator %s not modelled: %s", el.Key(), e)
		}
	}
	m.colls[ns][id.String()] = doc
	return nil
}

// pathLess orders dotted paths component by component, as the server's
// update tree does.
func pathLess(a, b []string) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return len(a) < len(b)
}

// pbmSetDoc sets path in d: an existing field keeps its place, a new one
// is appended, missing intermediate fields become embedded documents.
func pbmSetDoc(d bson.D, path []string, v any) (bson.D, error) {
	i := slicesIndexKey(d, path[0])
	if len(path) == 1 {
		if i >= 0 {
			d[i].Value = v
			return d, nil
		}
		return append(d, bson.E{Key: path[0], Value: v}), nil
	}
	if i < 0 {
		child, err := pbmSetDoc(bson.D{}, path[1:], v)
		return append(d, bson.E{Key: path[0], Value: child}), err
	}
	var err error
	switch x := d[i].Value.(type) {
	case bson.D:
		d[i].Value, err = pbmSetDoc(x, path[1:], v)
	case bson.A:
		d[i].Value, err = pbmSetArray(x, path[1:], v)
	default:
		err = fmt.Errorf("cannot create a field in %s (a %T)", path[0], x)
	}
	return d, err
}

// pbmSetArray sets path (starting with an index) in a: an index past the
// end pads the array with nulls, as the server does.
func pbmSetArray(a bson.A, path []string, v any) (bson.A, error) {
	idx, err := strconv.Atoi(path[0])
	if err != nil || idx < 0 {
		return a, fmt.Errorf("array index %q", path[0])
	}
	created := false
	for len(a) <= idx {
		a = append(a, nil)
		created = true
	}
	if len(path) == 1 {
		a[idx] = v
		return a, nil
	}
	switch x := a[idx].(type) {
	case bson.D:
		a[idx], err = pbmSetDoc(x, path[1:], v)
	case bson.A:
		a[idx], err = pbmSetArray(x, path[1:], v)
	default:
		if !created {
			return a, fmt.Errorf("cannot create a field in element %d (a %T)", idx, x)
		}
		a[idx], err = pbmSetDoc(bson.D{}, path[1:], v)
	}
	return a, err
}

// pbmUnset removes path from d; an array element becomes null; a missing
// path changes nothing.
func pbmUnset(d bson.D, path []string) bson.D {
	i := slicesIndexKey(d, path[0])
	if i < 0 {
		return d
	}
	if len(path) == 1 {
		return append(d[:i], d[i+1:]...)
	}
	switch x := d[i].Value.(type) {
	case bson.D:
		d[i].Value = pbmUnset(x, path[1:])
	case bson.A:
		idx, err := strconv.Atoi(path[1])
		if err != nil || idx < 0 || idx >= len(x) {
			return d
		}
		if len(path) == 2 {
			x[idx] = nil
		} else if sub, ok := x[idx].(bson.D); ok {
			x[idx] = pbmUnset(sub, path[2:])
		}
	}
	return d
}

func slicesIndexKey(d bson.D, key string) int {
	for i, e := range d {
		if e.Key == key {
			return i
		}
	}
	return -1
}

// command applies a "c" entry: create, drop and transactions.
func (m *pbmModel) command(t *testing.T, db string, o, e bson.Raw) error {
	elems, err := o.Elements()
	if err != nil || len(elems) == 0 {
		return fmt.Errorf("model: command without a name: %s", e)
	}
	name := elems[0].Key()
	coll, _ := elems[0].Value().StringValueOK()
	switch name {
	case "create":
		pbmCheckSystemNS(t, db, coll)
		if pbmUserNS(db, coll) {
			m.create(db + "." + coll)
		}
		return nil
	case "drop":
		if _, ok := m.colls[db+"."+coll]; ok {
			m.dropped[db+"."+coll] = true
		}
		delete(m.colls, db+"."+coll)
		return nil
	case "applyOps":
		if _, partial := o.LookupErr("partialTxn"); partial == nil {
			return fmt.Errorf("model: partialTxn chains not modelled: %s", e)
		}
		ops, err := o.Lookup("applyOps").Array().Values()
		if err != nil {
			return err
		}
		raws := make([]bson.Raw, len(ops))
		for i, op := range ops {
			raws[i] = append(bson.Raw(nil), op.Document()...) // e's buffer is reused by the source
		}
		if prepare, _ := o.Lookup("prepare").BooleanOK(); prepare {
			key, err := pbmTxnKey(e)
			if err != nil {
				return err
			}
			m.prepared[key] = raws
			return nil
		}
		if _, err := e.LookupErr("txnNumber"); err == nil {
			m.committed++ // an unprepared transaction commits at its applyOps
		}
		return m.applyAll(t, raws)
	case "commitTransaction", "abortTransaction":
		key, err := pbmTxnKey(e)
		if err != nil {
			return err
		}
		ops, ok := m.prepared[key]
		if !ok {
			return fmt.Errorf("model: %s of a transaction never prepared: %s", name, e)
		}
		delete(m.prepared, key)
		if name == "abortTransaction" {
			m.aborted++
			return nil
		}
		m.committed++
		return m.applyAll(t, ops)
	}
	return fmt.Errorf("model: command %s not modelled: %s", name, e)
}

func (m *pbmModel) applyAll(t *testing.T, ops []bson.Raw) error {
	for _, op := range ops {
		if err := m.apply(t, op); err != nil {
			return err
		}
	}
	return nil
}

// pbmTxnKey identifies a transaction: its session id and number.
func pbmTxnKey(e bson.Raw) (string, error) {
	id, err := e.LookupErr("lsid", "id")
	if err != nil {
		return "", fmt.Errorf("model: transaction entry without lsid.id: %s", e)
	}
	num, err := e.LookupErr("txnNumber")
	if err != nil {
		return "", fmt.Errorf("model: transaction entry without txnNumber: %s", e)
	}
	return id.String() + "/" + num.String(), nil
}
