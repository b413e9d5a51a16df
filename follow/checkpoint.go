package follow

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/cockroachdb/pebble/v2"
	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/internal/pebbledir"
	"github.com/tidelog/tidelog/oplog"
)

// Checkpoint keys. The format key marks a follower's checkpoint (a
// tailerd checkpoint, or any other Pebble database, lacks it and is
// refused); the state key holds the State as JSON.
const (
	formatKey = "tidelog-follow/format"
	stateKey  = "tidelog-follow/state"
	// journalPrefix keys the pre-images of the cycle under way, one key per
	// document (see journal.go): journalPrefix + 16 hex digits.
	journalPrefix = "tidelog-follow/journal/"
	journalEnd    = "tidelog-follow/journal0" // '0' follows '/'
	// journalUpTo holds the ts of the newest entry a cycle not committed
	// yet applies ("T.I"): what a restart must not put its horizon before.
	// A commit before it keeps it (see Save).
	journalUpTo   = journalPrefix + "upto"
	formatVersion = "1"
)

// ErrCheckpoint is wrapped by errors about a checkpoint directory that is
// not a usable follower checkpoint.
var ErrCheckpoint = errors.New("not a usable follower checkpoint")

// Checkpoint is the follower's durable position: one Pebble database in
// its own directory, written with Sync, so a commit that returned survives
// a crash and a crash never leaves half of one. One process at a time may
// hold it (the directory is locked).
type Checkpoint struct {
	dir  string
	pdb  *pebble.DB
	lock *pebble.Lock
}

// OpenCheckpoint opens the checkpoint in dir, creating it when dir is
// missing or empty. A directory holding anything else is refused.
func OpenCheckpoint(dir string, log zerolog.Logger) (*Checkpoint, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	pdb, lock, err := pebbledir.Open(abs, "replayer follow", log)
	if errors.Is(err, pebbledir.ErrUnusable) {
		return nil, corruptDir(abs, err)
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", abs, err)
	}
	c := &Checkpoint{dir: abs, pdb: pdb, lock: lock}
	if err := c.checkFormat(); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// Dir is the checkpoint's directory (absolute).
func (c *Checkpoint) Dir() string { return c.dir }

// Load returns the committed state; false when none was committed yet.
func (c *Checkpoint) Load() (State, bool, error) {
	v, closer, err := c.pdb.Get([]byte(stateKey))
	if errors.Is(err, pebble.ErrNotFound) {
		return State{}, false, nil
	}
	if err != nil {
		return State{}, false, c.readErr("read state", err)
	}
	defer closer.Close()
	s, err := decodeState(v)
	if err != nil {
		return State{}, false, c.corrupt(err)
	}
	return s, true, nil
}

// Save commits s durably (synced) before it returns, and clears the
// journal in the same atomic write: the cycle it covered is committed. The
// journal's upTo stays while it is after s.Through: a cycle cut short may
// have written that far, and the cycles that re-apply from the resume point
// after it can end before it (a resume point held back by an open
// transaction, a namespace command re-read).
func (c *Checkpoint) Save(s State) (err error) {
	b, err := encodeState(s)
	if err != nil {
		return fmt.Errorf("checkpoint %s: encode state: %w", c.dir, err)
	}
	defer pebbledir.RecoverFatal(&err)
	upTo, err := c.upTo()
	if err != nil {
		return err
	}
	batch := c.pdb.NewBatch()
	defer batch.Close()
	if err := batch.DeleteRange([]byte(journalPrefix), []byte(journalEnd), nil); err != nil {
		return fmt.Errorf("checkpoint %s: commit: %w", c.dir, err)
	}
	if upTo.After(s.Through) {
		if err := batch.Set([]byte(journalUpTo), []byte(upTo.String()), nil); err != nil {
			return fmt.Errorf("checkpoint %s: commit: %w", c.dir, err)
		}
	}
	if err := batch.Set([]byte(stateKey), b, nil); err != nil {
		return fmt.Errorf("checkpoint %s: commit: %w", c.dir, err)
	}
	if err := batch.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("checkpoint %s: commit: %w", c.dir, err)
	}
	return nil
}

// SaveJournal replaces the journal with pre and upTo (or the upTo it holds,
// when later), durably, before it returns. Each pre-image is the target
// namespace, a NUL, then the document's BSON.
func (c *Checkpoint) SaveJournal(pre []preimage, upTo oplog.Timestamp) (err error) {
	defer pebbledir.RecoverFatal(&err)
	prev, err := c.upTo()
	if err != nil {
		return err
	}
	if prev.After(upTo) {
		upTo = prev
	}
	batch := c.pdb.NewBatch()
	defer batch.Close()
	if err := batch.DeleteRange([]byte(journalPrefix), []byte(journalEnd), nil); err != nil {
		return fmt.Errorf("checkpoint %s: journal: %w", c.dir, err)
	}
	if err := batch.Set([]byte(journalUpTo), []byte(upTo.String()), nil); err != nil {
		return fmt.Errorf("checkpoint %s: journal: %w", c.dir, err)
	}
	for i, p := range pre {
		v := append(append([]byte(p.NS), 0), p.Doc...)
		if err := batch.Set(fmt.Appendf(nil, "%s%016x", journalPrefix, i), v, nil); err != nil {
			return fmt.Errorf("checkpoint %s: journal: %w", c.dir, err)
		}
	}
	if err := batch.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("checkpoint %s: journal: %w", c.dir, err)
	}
	return nil
}

// cycleJournal is what a cycle that did not commit left: the pre-images of
// the documents it may have written, and the newest entry the target may
// hold beyond the last commit (zero in a journal written before tidelog
// recorded it).
type cycleJournal struct {
	pre  []preimage
	upTo oplog.Timestamp
}

// Journal returns what a cycle that did not commit left (after a commit,
// at most an upTo the commit did not reach).
func (c *Checkpoint) Journal() (cycleJournal, error) {
	var j cycleJournal
	it, err := c.pdb.NewIter(&pebble.IterOptions{LowerBound: []byte(journalPrefix), UpperBound: []byte(journalEnd)})
	if err != nil {
		return j, c.readErr("read journal", err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		v := it.Value()
		if string(it.Key()) == journalUpTo {
			if j.upTo, err = c.parseUpTo(v); err != nil {
				it.Close()
				return j, err
			}
			continue
		}
		i := bytes.IndexByte(v, 0)
		if i < 0 || bson.Raw(v[i+1:]).Validate() != nil {
			it.Close()
			return j, c.corrupt(fmt.Errorf("journal entry %s does not decode", it.Key()))
		}
		j.pre = append(j.pre, preimage{NS: string(v[:i]), Doc: append(bson.Raw(nil), v[i+1:]...)})
	}
	if err := it.Close(); err != nil {
		return j, c.readErr("read journal", err)
	}
	return j, nil
}

// upTo reads the journal's upTo (zero when there is none).
func (c *Checkpoint) upTo() (oplog.Timestamp, error) {
	v, closer, err := c.pdb.Get([]byte(journalUpTo))
	if errors.Is(err, pebble.ErrNotFound) {
		return oplog.Timestamp{}, nil
	}
	if err != nil {
		return oplog.Timestamp{}, c.readErr("read journal", err)
	}
	defer closer.Close()
	return c.parseUpTo(v)
}

func (c *Checkpoint) parseUpTo(v []byte) (oplog.Timestamp, error) {
	ts, err := oplog.Parse(string(v))
	if err != nil {
		return ts, c.corrupt(fmt.Errorf("journal key %s does not decode: %w", journalUpTo, err))
	}
	return ts, nil
}

// Close closes the database and releases the directory.
func (c *Checkpoint) Close() error {
	err := c.pdb.Close()
	if lerr := c.lock.Close(); err == nil {
		err = lerr
	}
	if err != nil {
		return fmt.Errorf("checkpoint %s: close: %w", c.dir, err)
	}
	return nil
}

// checkFormat marks a new database as a follower checkpoint and refuses a
// database with keys but without the mark, or of another format.
func (c *Checkpoint) checkFormat() error {
	v, closer, err := c.pdb.Get([]byte(formatKey))
	if errors.Is(err, pebble.ErrNotFound) {
		empty, err := c.isEmpty()
		if err != nil {
			return c.corrupt(err)
		}
		if !empty {
			return c.corrupt(errors.New("the Pebble database holds keys but no follower format mark (a tailerd checkpoint?)"))
		}
		if err := c.pdb.Set([]byte(formatKey), []byte(formatVersion), pebble.Sync); err != nil {
			return fmt.Errorf("checkpoint %s: write format: %w", c.dir, err)
		}
		return nil
	}
	if err != nil {
		return c.corrupt(err)
	}
	defer closer.Close()
	if string(v) != formatVersion {
		return c.corrupt(fmt.Errorf("format %q, but this tidelog reads only format %s (upgrade tidelog)", v, formatVersion))
	}
	return nil
}

func (c *Checkpoint) isEmpty() (bool, error) {
	it, err := c.pdb.NewIter(nil)
	if err != nil {
		return false, err
	}
	empty := !it.First()
	return empty, it.Close()
}

// readErr names the checkpoint in a failed read, and says a damaged
// Pebble file is a checkpoint to move aside (ErrCheckpoint), not a
// failure to retry.
func (c *Checkpoint) readErr(what string, err error) error {
	if pebble.IsCorruptionError(err) {
		return c.corrupt(fmt.Errorf("%s: %w", what, err))
	}
	return fmt.Errorf("checkpoint %s: %s: %w", c.dir, what, err)
}

func (c *Checkpoint) corrupt(cause error) error {
	return corruptDir(c.dir, cause)
}

func corruptDir(dir string, cause error) error {
	if pebble.IsCorruptionError(cause) {
		// The first line says which file and what; Pebble joins a
		// placeholder line for its own detail payload after it.
		msg, _, _ := strings.Cut(cause.Error(), "\n")
		cause = errors.New(msg)
	}
	return fmt.Errorf("checkpoint %s: %w: %w; give --checkpoint a directory of its own (to start the standby over, move this one aside and run with --drop)",
		dir, ErrCheckpoint, cause)
}
