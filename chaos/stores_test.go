package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/crypt"
	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/segment"
	"github.com/tidelog/tidelog/store"
	"github.com/tidelog/tidelog/store/dirstore"
	"github.com/tidelog/tidelog/store/s3store"
)

// stream is the one stream of the run: the source's replica set.
const stream = testserver.ReplicaSet

const bucket = "chaos"

// stores are where the run's segments go: MinIO (the primary, --store) and a
// local directory beside it (--publish-to mirror=DIR), both fed through the
// spool.
//
// Both hold encrypted segments and snapshots only: tailerd and replayer get
// keys, newest first, through TIDELOG_ENCRYPTION_KEY, and replayer with
// keys refuses anything unencrypted.
type stores struct {
	minio  *testserver.MinIO
	prefix string
	mirror string
	keys   []crypt.Key // newest (the one tailerd encrypts with) first
}

// rotate makes a new key the one tailerd encrypts with from its next
// start; the older keys stay, to read what they sealed.
func (s *stores) rotate() { s.keys = append([]crypt.Key{crypt.NewKey()}, s.keys...) }

// ring is the keyring of every key of the run.
func (s *stores) ring() (*crypt.Keyring, error) { return crypt.NewKeyring(s.keys...) }

// loc is the primary's --store location.
func (s *stores) loc() string {
	return "s3://" + bucket + "/" + s.prefix + "?endpoint=" + s.minio.Endpoint() + "&tls=false"
}

// env gives a tailerd or replayer process the bucket's credentials and the
// encryption keys.
func (s *stores) env() []string {
	keys := make([]string, len(s.keys))
	for i, k := range s.keys {
		keys[i] = crypt.FormatKey(k)
	}
	return []string{"AWS_ACCESS_KEY_ID=" + s.minio.AccessKey(), "AWS_SECRET_ACCESS_KEY=" + s.minio.SecretKey(), "AWS_SESSION_TOKEN=",
		"TIDELOG_ENCRYPTION_KEY=" + strings.Join(keys, ",")}
}

// primary opens the bucket in-process, read-only, with few retries: the
// harness asks it while MinIO may be down.
func (s *stores) primary(ctx context.Context) (*s3store.Store, error) {
	return s3store.Open(ctx, s3store.Config{
		Endpoint: s.minio.Endpoint(), Bucket: bucket, Prefix: s.prefix, Lookup: s3store.LookupPath,
		AccessKey: s.minio.AccessKey(), SecretKey: s3store.Secret(s.minio.SecretKey()), MaxRetries: 2,
	})
}

func (s *stores) mirrorStore() (*dirstore.Store, error) { return dirstore.Open(s.mirror, false) }

// newestEnd is the end of the newest segment st holds (zero if none),
// from the segment names alone.
func newestEnd(ctx context.Context, st store.Store) (oplog.Timestamp, error) {
	names, err := st.Segments(ctx, stream)
	if errors.Is(err, store.ErrNotExist) || err == nil && len(names) == 0 {
		return oplog.Timestamp{}, nil
	}
	if err != nil {
		return oplog.Timestamp{}, err
	}
	_, end, err := segment.ParseName(names[len(names)-1])
	return end, err
}

// primaryEnd and mirrorEnd are newestEnd of each store.
func (s *stores) primaryEnd(ctx context.Context) (oplog.Timestamp, error) {
	st, err := s.primary(ctx)
	if err != nil {
		return oplog.Timestamp{}, err
	}
	return newestEnd(ctx, st)
}

func (s *stores) mirrorEnd(ctx context.Context) (oplog.Timestamp, error) {
	st, err := s.mirrorStore()
	if err != nil {
		return oplog.Timestamp{}, err
	}
	return newestEnd(ctx, st)
}

// entry is what the entry count needs of one stored oplog entry.
type entry struct {
	TS  oplog.Timestamp
	Op  op
	NS  string
	ID  int32
	Seq int64 // field v of an insert's or update's document; 0 for a delete
}

// storedEntries reads every segment of the stream in st through the
// verifying segment reader, in order, refusing any that is not encrypted
// with one of keys, and returns the entries, the segments' names and the
// id of the key each is sealed with.
func storedEntries(ctx context.Context, st store.Store, keys *crypt.Keyring) ([]entry, []string, []crypt.KeyID, error) {
	names, err := st.Segments(ctx, stream)
	if err != nil {
		return nil, nil, nil, err
	}
	var out []entry
	ids := make([]crypt.KeyID, len(names))
	for i, name := range names {
		if ids[i], err = readSegment(ctx, st, name, keys, func(raw bson.Raw) error {
			e, err := parseEntry(raw)
			if err != nil {
				return fmt.Errorf("segment %s: %w", name, err)
			}
			out = append(out, e)
			return nil
		}); err != nil {
			return nil, nil, nil, err
		}
	}
	return out, names, ids, nil
}

func readSegment(ctx context.Context, st store.Store, name string, keys *crypt.Keyring, each func(bson.Raw) error) (crypt.KeyID, error) {
	rc, err := st.OpenSegment(ctx, stream, name)
	if err != nil {
		return crypt.KeyID{}, err
	}
	defer rc.Close()
	r, err := segment.NewReaderWith(rc, name, segment.ReaderOptions{Keys: keys, RequireEncryption: true})
	if err != nil {
		return crypt.KeyID{}, err
	}
	for {
		raw, err := r.Next()
		if err == io.EOF {
			return r.Header().KeyID, nil
		}
		if err != nil {
			return crypt.KeyID{}, err
		}
		if err := each(raw); err != nil {
			return crypt.KeyID{}, err
		}
	}
}

// parseEntry reads an entry the writer's workload makes: an insert (o is
// the document), an update (o2 the _id, o a $set of the whole document on
// FerretDB, or the document) or a delete (o the _id).
func parseEntry(raw bson.Raw) (entry, error) {
	ts, err := oplog.EntryTS(raw)
	if err != nil {
		return entry{}, err
	}
	opName, err := oplog.EntryOp(raw)
	if err != nil {
		return entry{}, err
	}
	ns, err := oplog.EntryNS(raw)
	if err != nil {
		return entry{}, err
	}
	e := entry{TS: ts, Op: op(opName[0]), NS: ns}
	o, _ := raw.Lookup("o").DocumentOK()
	idDoc := o
	if e.Op == opUpdate {
		idDoc, _ = raw.Lookup("o2").DocumentOK()
		if set, ok := o.Lookup("$set").DocumentOK(); ok {
			o = set
		}
	}
	id, ok := idDoc.Lookup("_id").Int32OK()
	if !ok || len(opName) != 1 || (e.Op != opInsert && e.Op != opUpdate && e.Op != opDelete) {
		return e, fmt.Errorf("entry %s (%s %s) is not one the writer makes", ts, opName, ns)
	}
	e.ID = id
	if e.Op != opDelete {
		if e.Seq, ok = o.Lookup("v").Int64OK(); !ok {
			return e, fmt.Errorf("entry %s (%s %s %d) has no write number v", ts, opName, ns, id)
		}
	}
	return e, nil
}
