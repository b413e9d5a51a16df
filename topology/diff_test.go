package topology

import (
	"slices"
	"testing"
)

func rs(name string, role Role, uri string) ReplicaSet {
	return ReplicaSet{Name: name, Role: role, SetName: name, Hosts: []string{"h:1"}, URI: uri}
}

func mustTopology(t *testing.T, sets ...ReplicaSet) Topology {
	t.Helper()
	top, err := newTopology(KindConfigServer, sets)
	if err != nil {
		t.Fatal(err)
	}
	return top
}

func TestDiff(t *testing.T) {
	cfg := rs("cfg", RoleConfig, "mongodb://c/")
	a, b, c := rs("a", RoleShard, "mongodb://a/"), rs("b", RoleShard, "mongodb://b/"), rs("c", RoleShard, "mongodb://c/")
	bDraining := b
	bDraining.Draining = true
	aMoved := a
	aMoved.URI, aMoved.Hosts = "mongodb://a2/", []string{"h:2"}

	old := mustTopology(t, cfg, a, b)
	cur := mustTopology(t, c, bDraining, aMoved, cfg)
	d := Diff(old, cur)
	if got := names(d.Added); !slices.Equal(got, []string{"c"}) {
		t.Errorf("Added %v", got)
	}
	if len(d.Removed) != 0 {
		t.Errorf("Removed %v", names(d.Removed))
	}
	if got := names(d.Changed); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("Changed %v", got)
	}
	if !d.Changed[1].Draining {
		t.Errorf("Changed holds the old state of b")
	}

	back := Diff(cur, old)
	if got := names(back.Removed); !slices.Equal(got, []string{"c"}) {
		t.Errorf("reverse Removed %v", got)
	}
	if got := names(back.Added); len(got) != 0 {
		t.Errorf("reverse Added %v", got)
	}
}

func TestDiffSameIsEmpty(t *testing.T) {
	top := mustTopology(t, rs("cfg", RoleConfig, "mongodb://c/"), rs("a", RoleShard, "mongodb://a/"))
	if d := Diff(top, top); !d.Empty() {
		t.Fatalf("Diff of a topology with itself: %+v", d)
	}
	if d := Diff(Topology{}, top); len(d.Added) != 2 || d.Empty() {
		t.Fatalf("Diff from nothing: %+v", d)
	}
}

func TestNewTopologyOrderAndUniqueNames(t *testing.T) {
	top := mustTopology(t, rs("z", RoleShard, "u"), rs("solo", RoleReplSet, "u"), rs("a", RoleShard, "u"), rs("cfg", RoleConfig, "u"))
	if got := top.Names(); !slices.Equal(got, []string{"cfg", "a", "z", "solo"}) {
		t.Fatalf("order %v", got)
	}
	if _, err := newTopology(KindConfigServer, []ReplicaSet{rs("x", RoleConfig, "u"), rs("x", RoleShard, "u")}); err == nil {
		t.Fatal("two replica sets named x were accepted")
	}
}
