package topology

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/klauspost/compress/s2"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/dump"
	"github.com/tidelog/tidelog/internal/testserver"
)

func rawDoc(t *testing.T, d bson.D) bson.Raw {
	t.Helper()
	b, err := bson.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The config.shards documents of a real cluster (Percona Server for MongoDB
// 4.4.12, config server "cfg", shards "rs1" and "rsx"), from PBM's backup of
// its config server in ../shared/fixtures. Shard "rsx" runs replica set
// "rs2": a shard's name and its replica set's name can differ.
func TestDecodeShardRealConfigServerDump(t *testing.T) {
	path := filepath.Join(testserver.RepoRoot(), "..", "shared", "fixtures", "percona-backup-mongodb",
		"e2e-tests", "docker", "backups", "pbm_disttxn_4x", "2022-02-09T12.42.32Z_cfg.dump.s2")
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	defer f.Close()
	a, err := dump.OpenArchive(s2.NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	var got []shardDoc
	err = dump.Each(a, func(ns dump.Namespace, doc bson.Raw) error {
		if ns.DB != "config" || ns.Collection != "shards" {
			return nil
		}
		d, err := decodeShard(doc)
		got = append(got, d)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []shardDoc{
		{ID: "rs1", Host: HostString{SetName: "rs1", Hosts: []string{"rs101:27017", "rs102:27017", "rs103:27017"}}},
		{ID: "rsx", Host: HostString{SetName: "rs2", Hosts: []string{"rs201:27017", "rs202:27017", "rs203:27017"}}},
	}
	if len(got) != len(want) {
		t.Fatalf("decoded %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].ID != want[i].ID || got[i].Host.SetName != want[i].Host.SetName ||
			!slices.Equal(got[i].Host.Hosts, want[i].Host.Hosts) || got[i].Draining {
			t.Errorf("shard %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestDecodeShardDraining(t *testing.T) {
	d, err := decodeShard(rawDoc(t, bson.D{{Key: "_id", Value: "s"}, {Key: "host", Value: "rs/h:1"},
		{Key: "state", Value: 1}, {Key: "draining", Value: true}}))
	if err != nil || !d.Draining {
		t.Fatalf("got %+v, %v", d, err)
	}
}

func TestDecodeShardRejects(t *testing.T) {
	for name, doc := range map[string]bson.D{
		"standalone shard": {{Key: "_id", Value: "s"}, {Key: "host", Value: "h:1"}},
		"no host":          {{Key: "_id", Value: "s"}},
		"numeric _id":      {{Key: "_id", Value: 1}, {Key: "host", Value: "rs/h:1"}},
		"draining string":  {{Key: "_id", Value: "s"}, {Key: "host", Value: "rs/h:1"}, {Key: "draining", Value: "yes"}},
	} {
		if d, err := decodeShard(rawDoc(t, doc)); err == nil {
			t.Errorf("%s: decoded %+v, want an error", name, d)
		}
	}
	_, err := decodeShard(rawDoc(t, bson.D{{Key: "_id", Value: "shard7"}, {Key: "host", Value: "h:1"}}))
	if !errors.Is(err, ErrNotReplicaSet) {
		t.Fatalf("standalone shard: %v, want ErrNotReplicaSet", err)
	}
	if want := "topology: shard shard7: "; len(err.Error()) < len(want) || err.Error()[:len(want)] != want {
		t.Fatalf("error %q should start %q", err, want)
	}
}
