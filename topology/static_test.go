package topology

import (
	"slices"
	"testing"
)

func TestStatic(t *testing.T) {
	top, err := Static([]Member{
		{URI: "mongodb://b:1,a:1/?replicaSet=rs1"},
		{Name: "cfg", URI: "mongodb://u:p@c:1/?replicaSet=csrs", Role: RoleConfig},
		{Name: "solo", URI: "mongodb://s:1/?directConnection=true"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := top.Names(); !slices.Equal(got, []string{"cfg", "rs1", "solo"}) {
		t.Fatalf("names %v", got)
	}
	r, _ := top.Find("rs1")
	if r.Role != RoleReplSet || r.SetName != "rs1" || !slices.Equal(r.Hosts, []string{"a:1", "b:1"}) || r.URI != "mongodb://b:1,a:1/?replicaSet=rs1" {
		t.Fatalf("rs1: %+v", r)
	}
	if top.Seed != KindStatic {
		t.Fatalf("seed %q", top.Seed)
	}
}

func TestStaticRejects(t *testing.T) {
	for name, ms := range map[string][]Member{
		"no name":    {{URI: "mongodb://s:1/"}},
		"bad uri":    {{Name: "x", URI: "http://s:1/"}},
		"duplicate":  {{Name: "x", URI: "mongodb://a:1/"}, {Name: "x", URI: "mongodb://b:1/"}},
		"wrong role": {{Name: "x", URI: "mongodb://a:1/", Role: "router"}},
	} {
		if _, err := Static(ms); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
