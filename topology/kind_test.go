package topology

import (
	"errors"
	"testing"
)

func TestClassify(t *testing.T) {
	mongos := helloReply{Msg: "isdbgrid"}
	csrs := helloReply{SetName: "cfg", Hosts: []string{"c:1"}, ConfigSvr: 2}
	member := helloReply{SetName: "rs0", Hosts: []string{"r:1"}}
	standalone := helloReply{}
	yes := func() (bool, error) { return true, nil }
	no := func() (bool, error) { return false, nil }
	never := func() (bool, error) { t.Error("inferConfig asked although hello settles it"); return false, nil }

	for _, c := range []struct {
		name   string
		h      helloReply
		assume Kind
		infer  func() (bool, error)
		want   Kind // "" = error
	}{
		{"mongos", mongos, KindAuto, never, KindMongos},
		{"config server", csrs, KindAuto, never, KindConfigServer},
		{"plain member", member, KindAuto, no, KindReplicaSet},
		{"stand-in config server", member, KindAuto, yes, KindConfigServer},
		{"standalone", standalone, KindAuto, never, ""},
		{"assume config", member, KindConfigServer, never, KindConfigServer},
		{"assume replset over inference", member, KindReplicaSet, never, KindReplicaSet},
		{"assume mongos", standalone, KindMongos, never, KindMongos},
		{"assume config on a mongos", mongos, KindConfigServer, never, ""},
		{"assume config on a standalone", standalone, KindConfigServer, never, ""},
		{"assume replset on a real config server", csrs, KindReplicaSet, never, ""},
		{"assume mongos on a member", member, KindMongos, never, KindMongos},
		{"unknown assume", member, Kind("shard"), never, ""},
	} {
		got, err := classify(c.h, c.assume, c.infer)
		if c.want == "" {
			if err == nil {
				t.Errorf("%s: got %q, want an error", c.name, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: got %q, %v; want %q", c.name, got, err, c.want)
		}
	}
}

func TestClassifyInferenceError(t *testing.T) {
	boom := errors.New("boom")
	_, err := classify(helloReply{SetName: "rs0"}, KindAuto, func() (bool, error) { return false, boom })
	if !errors.Is(err, boom) {
		t.Fatalf("err %v, want boom", err)
	}
}
