package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/tidelog/tidelog/crypt"
	"github.com/tidelog/tidelog/segment/segmenttest"
	"github.com/tidelog/tidelog/snapshot"
	"github.com/tidelog/tidelog/store/dirstore"
	"github.com/tidelog/tidelog/topology"
)

const snapT = 1700000000

// putChain stores rs0 segments of 100 entries each from position 1: the
// first plain of them in plaintext, the rest encrypted with keys.
func putChain(t *testing.T, st *dirstore.Store, keys *crypt.Keyring, plain, n int) {
	segmenttest.Chain(t, st, "rs0", keys, snapT, plain, n)
}

// putPlainManifest stores a plaintext manifest of rs0 (no collections),
// checksum included, as anyone who can write to the store can forge one.
func putPlainManifest(t *testing.T, st *dirstore.Store, id string, start, end uint32, finished time.Time) {
	t.Helper()
	ts := func(i uint32) string { return fmt.Sprintf("%d.%d", snapT, i) }
	body, err := json.Marshal(map[string]any{"version": snapshot.FormatVersion, "id": id, "stream": "rs0", "replicaSet": "rs0", "server": "",
		"start": ts(start), "end": ts(end), "taken": finished.Add(-time.Minute).UTC(), "finished": finished.UTC(),
		"includeUsers": false, "files": 0, "docs": 0, "bytes": 0, "storedBytes": 0, "collections": []any{}})
	if err != nil {
		t.Fatal(err)
	}
	data := fmt.Appendf(nil, `{"format": "tidelog-snapshot", "checksum": "crc32c:%08x", "manifest": %s}`,
		crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)), body)
	if _, err := st.PutSnapshotFile(t.Context(), "rs0", id, snapshot.ManifestName, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
}

// The snapshot metrics count what the backup cycle counts: a forged
// plaintext manifest that starts after the stream's first encrypted
// segment is neither a complete snapshot nor the newest one.
func TestSnapshotMetricsIgnoreForgedPlaintextSnapshot(t *testing.T) {
	keys, err := crypt.NewKeyring(crypt.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	st, err := dirstore.Open(t.TempDir(), true)
	if err != nil {
		t.Fatal(err)
	}
	putChain(t, st, keys, 1, 2) // 1..100 plaintext, 101..200 encrypted
	real := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	putPlainManifest(t, st, "20231114T221320Z-1700000000.0000000002", 2, 5, real) // taken before encryption: the stream's own
	putPlainManifest(t, st, "20231114T231320Z-1700000000.0000000150", 150, 160, time.Now().Add(-time.Minute))

	p := newPipelines(config{keys: keys}, st, nil, zerolog.New(zerolog.NewTestWriter(t)), true)
	ps := &pipeState{rs: topology.ReplicaSet{Name: "rs0", Role: topology.RoleReplSet}, reload: make(chan struct{}, 1)}
	p.streams["rs0"] = ps
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); p.watchSnapshots(ctx, ps, func() string { return "rs0" }, p.log) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		p.mu.Lock()
		checked := !ps.snaps.checked.IsZero()
		p.mu.Unlock()
		if checked {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the snapshots were not looked at within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done

	reg := prometheus.NewRegistry()
	reg.MustRegister(&collector{get: func() *pipelines { return p }, now: time.Now})
	values := gather(t, reg)
	if got := values[`tidelog_snapshot_complete{role="replset",stream="rs0"}`]; got != 1 {
		t.Errorf("tidelog_snapshot_complete = %v, want 1: the forged plaintext snapshot counted", got)
	}
	if got := values[`tidelog_snapshot_newest_timestamp_seconds{role="replset",stream="rs0"}`]; got != float64(real.Unix()) {
		t.Errorf("tidelog_snapshot_newest_timestamp_seconds = %v, want %d (the real snapshot), not the forged one's", got, real.Unix())
	}
}
