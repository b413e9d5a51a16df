package replay

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/oplog"
)

// interruptedHistory: 40 documents inserted into d.r and 4 into d.s, a
// command (a barrier: they are written), then a batch that updates 30 of
// d.r ($v:1 and a replacement), deletes 5, updates then deletes 2, inserts
// 3 new ones, and updates d.s. On FerretDB the second batch deletes the
// updated documents before it inserts their new versions; with two
// namespaces each is written whole by one partition, so a cut after d.r's
// delete leaves d.r as it is until the next replay.
func interruptedHistory(t *testing.T) []bson.Raw {
	var h []bson.Raw
	i := uint32(0)
	add := func(op string, o, o2 bson.D) {
		i++
		h = append(h, entry(t, i, op, "d.r", o, o2))
	}
	for n := int32(1); n <= 40; n++ {
		add("i", bson.D{{Key: "_id", Value: n}, {Key: "v", Value: int32(0)}, {Key: "keep", Value: n * 10}}, nil)
	}
	for n := int32(1); n <= 4; n++ {
		i++
		h = append(h, entry(t, i, "i", "d.s", bson.D{{Key: "_id", Value: n}, {Key: "w", Value: int32(0)}}, nil))
	}
	i++
	h = append(h, entry(t, i, "c", "d.$cmd", bson.D{{Key: "create", Value: "other"}}, nil))
	for n := int32(1); n <= 4; n++ {
		i++
		h = append(h, entry(t, i, "u", "d.s", bson.D{{Key: "$v", Value: int32(1)}, {Key: "$set", Value: bson.D{{Key: "w", Value: n}}}}, id(n)))
	}
	for n := int32(1); n <= 30; n++ {
		if n%10 == 0 {
			add("u", bson.D{{Key: "_id", Value: n}, {Key: "replaced", Value: true}}, id(n))
			continue
		}
		add("u", bson.D{{Key: "$v", Value: int32(1)}, {Key: "$set", Value: bson.D{{Key: "v", Value: n}}}}, id(n))
	}
	for n := int32(31); n <= 35; n++ {
		add("d", id(n), nil)
	}
	for n := int32(36); n <= 37; n++ {
		add("u", bson.D{{Key: "$v", Value: int32(1)}, {Key: "$set", Value: bson.D{{Key: "v", Value: n}}}}, id(n))
		add("d", id(n), nil)
	}
	for n := int32(41); n <= 43; n++ {
		add("i", bson.D{{Key: "_id", Value: n}, {Key: "v", Value: n}}, nil)
	}
	return h
}

// cutAfterDelete connects to srv with a client that cancels the context
// returned once the target acknowledges the first delete command on
// collection coll: the replay is then cut between its delete and its
// insert, as a kill there would cut it.
func cutAfterDelete(t *testing.T, srv *testserver.Server, coll string) (*mongo.Client, context.Context) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var mu sync.Mutex
	deletes := map[int64]bool{}
	fired := false
	monitor := &event.CommandMonitor{
		Started: func(_ context.Context, e *event.CommandStartedEvent) {
			if e.CommandName != "delete" {
				return
			}
			if name, _ := e.Command.Lookup("delete").StringValueOK(); name == coll {
				mu.Lock()
				deletes[e.RequestID] = true
				mu.Unlock()
			}
		},
		Succeeded: func(_ context.Context, e *event.CommandSucceededEvent) {
			mu.Lock()
			defer mu.Unlock()
			if deletes[e.RequestID] && !fired {
				fired = true
				cancel()
			}
		},
	}
	c, err := mongo.Connect(options.Client().ApplyURI(srv.URI).SetTimeout(30 * time.Second).SetMonitor(monitor))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Disconnect(context.Background()) })
	return c, ctx
}

// ferret starts a FerretDB server for one test and connects to it.
func ferret(t *testing.T) (*testserver.Server, *mongo.Client) {
	t.Helper()
	srv := testserver.StartT(t, testserver.Options{NoOplog: true})
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Disconnect(context.Background()) })
	return srv, c
}

// sameAsWhole fails t unless db holds what the uninterrupted replay left
// in whole.
func sameAsWhole(t *testing.T, c *mongo.Client, db string) {
	t.Helper()
	for _, coll := range []string{"r", "s"} {
		want, got := contentsOf(t, c, "whole", coll), contentsOf(t, c, db, coll)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("resumed replay differs from an uninterrupted one in %s:\n got  %d documents %v\n want %d documents %v", coll, len(got), got, len(want), want)
		}
	}
}

// journalSize counts the parts in the target's replay journal.
func journalSize(t *testing.T, c *mongo.Client) int64 {
	t.Helper()
	n, err := c.Database(journalDB).Collection(journalCollection).CountDocuments(context.Background(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func intoDB(t *testing.T, db string) Options {
	t.Helper()
	ns, err := NewNamespaces(nil, nil, []string{"d.*"}, []string{db + ".*"})
	if err != nil {
		t.Fatal(err)
	}
	return Options{Namespaces: ns}
}

// cutReplay replays history into db through a client that cuts it after
// its first delete on db's collection r, and returns the resume point it
// reports. opts.After resumes an earlier cut replay.
func cutReplay(t *testing.T, srv *testserver.Server, history []bson.Raw, opts Options) oplog.Timestamp {
	t.Helper()
	cut, ctx := cutAfterDelete(t, srv, "r")
	_, err := Write(ctx, entrySource(history), cut, opts, zerolog.Nop())
	var se *StoppedError
	if !errors.As(err, &se) || !errors.Is(err, context.Canceled) {
		t.Fatalf("replay cut after its delete: %v, want a StoppedError of the cancel", err)
	}
	return se.Applied
}

// A FerretDB replay cut between the delete and the insert of a batch's
// documents — twice: the resumed replay is cut again in the same place —
// then resumed from the resume point it reported, leaves exactly what an
// uninterrupted replay leaves: no document the batch only updated is
// lost, and no update is taken for one that found no document.
func TestResumeAfterCutBetweenDeleteAndInsert(t *testing.T) {
	ctx := context.Background()
	srv, c := ferret(t)
	history := interruptedHistory(t)
	if _, err := Write(ctx, entrySource(history), c, intoDB(t, "whole"), zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	want := contentsOf(t, c, "whole", "r")
	if len(want) != 36 {
		t.Fatalf("the uninterrupted replay left %d documents, want 36", len(want))
	}

	commandTS := oplog.Timestamp{T: 1700000000, I: 45}
	applied := cutReplay(t, srv, history, intoDB(t, "resumed"))
	if applied != commandTS {
		t.Fatalf("cut replay: resume point %s, want %s (the command before the batch)", applied, commandTS)
	}
	if n := len(contentsOf(t, c, "resumed", "r")); n >= 36 {
		t.Fatalf("the cut left %d documents: it did not fall between the delete and the insert", n)
	}
	if journalSize(t, c) == 0 {
		t.Fatal("the cut replay left no journal of the documents it removed")
	}

	opts := intoDB(t, "resumed")
	opts.After = applied
	if again := cutReplay(t, srv, history, opts); again != applied {
		t.Fatalf("resumed replay cut again: resume point %s, want %s", again, applied)
	}
	stats, err := Write(ctx, entrySource(history), c, opts, zerolog.Nop())
	if err != nil {
		t.Fatalf("resumed replay: %v", err)
	}
	sameAsWhole(t, c, "resumed")
	if stats.UpdateMisses != 0 {
		t.Errorf("resumed replay: %d updates found no document", stats.UpdateMisses)
	}
	if n := journalSize(t, c); n != 0 {
		t.Errorf("the finished replay left %d journal entries", n)
	}
}

// A replay that starts over (no resume point) after one was cut does not
// put back what the cut one removed: it discards the journal and says so.
func TestFreshReplayDiscardsJournal(t *testing.T) {
	ctx := context.Background()
	srv, c := ferret(t)
	cutReplay(t, srv, interruptedHistory(t), intoDB(t, "again"))

	other := []bson.Raw{entry(t, 1, "i", "d.r", bson.D{{Key: "_id", Value: int32(100)}}, nil)}
	var logged bytes.Buffer
	if _, _, err := Replay(ctx, entrySource(other), c, intoDB(t, "again"), Drop, zerolog.New(&logged)); err != nil {
		t.Fatal(err)
	}
	got := contentsOf(t, c, "again", "r")
	if len(got) != 1 || !strings.Contains(got[0], `"100"`) {
		t.Errorf("a replay started over with drop left %v, want only its own document 100", got)
	}
	if n := journalSize(t, c); n != 0 {
		t.Errorf("%d journal entries left", n)
	}
	if !strings.Contains(logged.String(), "journal is discarded") {
		t.Errorf("the discarded journal is not reported; log:\n%s", logged.String())
	}
}

// Resuming after a later position than the cut replay reported would leave
// the documents it removed at versions older than the resume point: the
// replay refuses before writing, naming the position to resume from.
func TestResumePastJournalRefused(t *testing.T) {
	ctx := context.Background()
	srv, c := ferret(t)
	history := interruptedHistory(t)
	applied := cutReplay(t, srv, history, intoDB(t, "late"))
	before := contentsOf(t, c, "late", "r")

	opts := intoDB(t, "late")
	opts.After = oplog.Timestamp{T: 1700000000, I: 60}
	_, err := Write(ctx, entrySource(history), c, opts, zerolog.Nop())
	var ahead *JournalAheadError
	if !errors.As(err, &ahead) || !strings.Contains(err.Error(), "--after "+applied.String()) {
		t.Fatalf("resume past the cut write: %v, want a refusal naming --after %s", err, applied)
	}
	if after := contentsOf(t, c, "late", "r"); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("the refused resume wrote to the target")
	}
	if journalSize(t, c) == 0 {
		t.Error("the refused resume dropped the journal")
	}
}

// A journal part whose data no longer matches its checksum, or whose
// parts cannot all be its write's (a part count below one: not a write cut
// while being journaled, to skip), stops the resume before it puts that
// write's documents back.
func TestDamagedJournalRefused(t *testing.T) {
	for _, damage := range []struct {
		name   string
		update func(ctx context.Context, journal *mongo.Collection) error
	}{
		{"checksum", func(ctx context.Context, journal *mongo.Collection) error {
			_, err := journal.UpdateOne(ctx, bson.D{}, bson.D{{Key: "$set", Value: bson.D{{Key: "data", Value: bytes.Repeat([]byte{7}, 64)}}}})
			return err
		}},
		{"parts", func(ctx context.Context, journal *mongo.Collection) error {
			_, err := journal.UpdateMany(ctx, bson.D{}, bson.D{{Key: "$set", Value: bson.D{{Key: "parts", Value: int32(0)}}}})
			return err
		}},
		// Header fields the data's checksum does not cover: an earlier
		// resume point would let a resume put back versions older than it.
		{"resume point", func(ctx context.Context, journal *mongo.Collection) error {
			_, err := journal.UpdateMany(ctx, bson.D{}, bson.D{{Key: "$set", Value: bson.D{{Key: "after", Value: bson.Timestamp{T: 1700000000, I: 1}}}}})
			return err
		}},
		{"namespace", func(ctx context.Context, journal *mongo.Collection) error {
			_, err := journal.UpdateMany(ctx, bson.D{}, bson.D{{Key: "$set", Value: bson.D{{Key: "ns", Value: "damaged.elsewhere"}}}})
			return err
		}},
	} {
		t.Run(damage.name, func(t *testing.T) {
			ctx := context.Background()
			srv, c := ferret(t)
			history := interruptedHistory(t)
			applied := cutReplay(t, srv, history, intoDB(t, "damaged"))
			if err := damage.update(ctx, c.Database(journalDB).Collection(journalCollection)); err != nil {
				t.Fatal(err)
			}
			opts := intoDB(t, "damaged")
			opts.After = applied
			_, err := Write(ctx, entrySource(history), c, opts, zerolog.Nop())
			if err == nil || !strings.Contains(err.Error(), "damaged") || !strings.Contains(err.Error(), "--drop") {
				t.Fatalf("resume over a damaged journal: %v, want an error naming the damage and --drop", err)
			}
		})
	}
}

// Documents whose journal spans several parts (one document across a
// part's end) come back whole.
func TestJournalAcrossParts(t *testing.T) {
	ctx := context.Background()
	srv, c := ferret(t)
	// 5 documents of 3 MiB in d.r, written whole by one partition (d.s
	// makes two namespaces): its journal is 15 MiB, two parts.
	big := strings.Repeat("x", 3<<20)
	var history []bson.Raw
	for n := int32(1); n <= 5; n++ {
		history = append(history, entry(t, uint32(n), "i", "d.r", bson.D{{Key: "_id", Value: n}, {Key: "big", Value: big}, {Key: "v", Value: int32(0)}}, nil))
	}
	history = append(history, entry(t, 6, "i", "d.s", bson.D{{Key: "_id", Value: int32(1)}}, nil),
		entry(t, 7, "c", "d.$cmd", bson.D{{Key: "create", Value: "other"}}, nil),
		entry(t, 8, "u", "d.s", bson.D{{Key: "$v", Value: int32(1)}, {Key: "$set", Value: bson.D{{Key: "v", Value: int32(1)}}}}, id(1)))
	for n := int32(1); n <= 5; n++ {
		history = append(history, entry(t, uint32(8+n), "u", "d.r", bson.D{{Key: "$v", Value: int32(1)}, {Key: "$set", Value: bson.D{{Key: "v", Value: n}}}}, id(n)))
	}
	if _, err := Write(ctx, entrySource(history), c, intoDB(t, "whole"), zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	applied := cutReplay(t, srv, history, intoDB(t, "parts"))
	var parts int32
	cur, err := c.Database(journalDB).Collection(journalCollection).Find(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	for cur.Next(ctx) {
		parts = max(parts, cur.Current.Lookup("parts").Int32())
	}
	if parts < 2 {
		t.Fatalf("the journal's writes have at most %d parts; the test needs one across parts", parts)
	}
	opts := intoDB(t, "parts")
	opts.After = applied
	if _, err := Write(ctx, entrySource(history), c, opts, zerolog.Nop()); err != nil {
		t.Fatalf("resumed replay: %v", err)
	}
	want, got := contentsOf(t, c, "whole", "r"), contentsOf(t, c, "parts", "r")
	if len(want) != 5 || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("resumed replay left %d documents, the uninterrupted one %d (want 5, alike)", len(got), len(want))
	}
}

// A replay that starts over discards a journal it cannot read (another
// format version, a damaged part) as it discards any other: starting over
// with --drop is what a damaged journal's error advises.
func TestFreshReplayDiscardsUnreadableJournal(t *testing.T) {
	ctx := context.Background()
	srv, c := ferret(t)
	history := interruptedHistory(t)
	cutReplay(t, srv, history, intoDB(t, "fresh"))
	journal := c.Database(journalDB).Collection(journalCollection)
	if _, err := journal.InsertMany(ctx, []any{bson.D{{Key: "v", Value: int32(2)}}, bson.D{{Key: "v", Value: "one"}}}); err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	if _, _, err := Replay(ctx, entrySource(history), c, intoDB(t, "fresh"), Drop, zerolog.New(&logged)); err != nil {
		t.Fatalf("a replay starting over with drop: %v", err)
	}
	if got := contentsOf(t, c, "fresh", "r"); len(got) != 36 {
		t.Errorf("the replay started over left %d documents, want 36", len(got))
	}
	if n := journalSize(t, c); n != 0 {
		t.Errorf("%d journal entries left", n)
	}
	if !strings.Contains(logged.String(), "journal is discarded") {
		t.Errorf("the discarded journal is not reported; log:\n%s", logged.String())
	}
}

// failOnce is a dialer whose connections lose the first command that
// carries name (once for all of them): a connection lost at that command.
type failOnce struct {
	name  []byte
	fired atomic.Bool
}

func (d *failOnce) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &failOnceConn{Conn: c, d: d}, nil
}

type failOnceConn struct {
	net.Conn
	d *failOnce
}

func (c *failOnceConn) Write(p []byte) (int, error) {
	if bytes.Contains(p, c.d.name) && c.d.fired.CompareAndSwap(false, true) {
		c.Conn.Close()
		return 0, errors.New("connection lost (test)")
	}
	return c.Conn.Write(p)
}

// A resumed replay whose first question to the target (what it is) fails
// does not take FerretDB for MongoDB and go on without the journal, which
// would leave what the cut replay removed absent: it stops at the resume
// point, and resumed again it ends exactly where an uninterrupted replay
// does.
func TestResumeAfterALostFirstCommand(t *testing.T) {
	ctx := context.Background()
	srv, c := ferret(t)
	history := interruptedHistory(t)
	if _, err := Write(ctx, entrySource(history), c, intoDB(t, "whole"), zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	applied := cutReplay(t, srv, history, intoDB(t, "lost"))

	d := &failOnce{name: []byte("buildInfo\x00")}
	flaky, err := mongo.Connect(options.Client().ApplyURI(srv.URI).SetTimeout(30 * time.Second).SetDialer(d))
	if err != nil {
		t.Fatal(err)
	}
	defer flaky.Disconnect(ctx)
	opts := intoDB(t, "lost")
	opts.After = applied
	stats, err := Write(ctx, entrySource(history), flaky, opts, zerolog.Nop())
	if err != nil {
		var se *StoppedError
		if !errors.As(err, &se) || se.Applied != applied {
			t.Fatalf("resumed replay whose first command was lost: %v, want a stop at resume point %s", err, applied)
		}
		if stats, err = Write(ctx, entrySource(history), flaky, opts, zerolog.Nop()); err != nil {
			t.Fatalf("resumed again: %v", err)
		}
	}
	if !d.fired.Load() {
		t.Fatal("no buildInfo command was lost: the test tests nothing")
	}
	sameAsWhole(t, c, "lost")
	if stats.UpdateMisses != 0 {
		t.Errorf("resumed replay: %d updates found no document", stats.UpdateMisses)
	}
	if n := journalSize(t, c); n != 0 {
		t.Errorf("the finished replay left %d journal entries", n)
	}
}

// A resumed replay whose input starts after its resume point (a follower
// reads only what comes after it) still reports that point when it is cut
// again, and journals under it: it reported zero, "start over", and the
// journal it left then refused every resume.
func TestResumeFromInputAfterTheResumePoint(t *testing.T) {
	ctx := context.Background()
	srv, c := ferret(t)
	history := interruptedHistory(t)
	if _, err := Write(ctx, entrySource(history), c, intoDB(t, "whole"), zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	applied := cutReplay(t, srv, history, intoDB(t, "resumed"))
	var tail []bson.Raw
	for _, e := range history {
		if ts, err := oplog.EntryTS(e); err == nil && ts.After(applied) {
			tail = append(tail, e)
		}
	}
	if len(tail) == 0 || len(tail) == len(history) {
		t.Fatalf("the resume point %s leaves %d of %d entries", applied, len(tail), len(history))
	}
	opts := intoDB(t, "resumed")
	opts.After = applied
	if again := cutReplay(t, srv, tail, opts); again != applied {
		t.Fatalf("resumed replay of the entries after %s cut again: resume point %s, want %s", applied, again, applied)
	}
	if _, err := Write(ctx, entrySource(tail), c, opts, zerolog.Nop()); err != nil {
		t.Fatalf("resumed replay: %v", err)
	}
	sameAsWhole(t, c, "resumed")
}
