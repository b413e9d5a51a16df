package replay

import "testing"

func TestNamespaces(t *testing.T) {
	n, err := NewNamespaces([]string{"shop.*", "app.events"}, []string{"shop.secrets"}, []string{"shop.*", "app.events"}, []string{"staging.*", "archive.ev"})
	if err != nil {
		t.Fatal(err)
	}
	sel := map[[2]string]bool{
		{"shop", "orders"}: true, {"shop", "secrets"}: false, {"app", "events"}: true, {"app", "users"}: false, {"other", "x"}: false,
	}
	for ns, want := range sel {
		if got := n.Selected(ns[0], ns[1]); got != want {
			t.Errorf("Selected(%s.%s) = %v, want %v", ns[0], ns[1], got, want)
		}
	}
	if db, c := n.Rename("shop", "orders"); db != "staging" || c != "orders" {
		t.Errorf("shop.orders renamed to %s.%s, want staging.orders", db, c)
	}
	if db, c := n.Rename("app", "events"); db != "archive" || c != "ev" {
		t.Errorf("app.events renamed to %s.%s, want archive.ev", db, c)
	}
	if db, c := n.Rename("other", "x"); db != "other" || c != "x" {
		t.Errorf("unmatched namespace renamed to %s.%s", db, c)
	}
	if !n.SelectedDB("shop") || n.SelectedDB("other") {
		t.Error("SelectedDB")
	}
	var all Namespaces
	if !all.Selected("any", "thing") {
		t.Error("the zero value must select everything")
	}
	for _, bad := range [][4][]string{
		{{"nodot"}, nil, nil, nil},
		{nil, nil, {"a.*"}, nil},
		{nil, nil, {"a.*"}, {"b.c"}},
		{{"a.b*"}, nil, nil, nil},
	} {
		if _, err := NewNamespaces(bad[0], bad[1], bad[2], bad[3]); err == nil {
			t.Errorf("NewNamespaces(%v) accepted", bad)
		}
	}
}

// A timeseries collection's documents live in its system.buckets.*
// collection: naming the collection selects, excludes and renames them.
func TestNamespacesCarryTimeseriesBuckets(t *testing.T) {
	n, err := NewNamespaces([]string{"iot.weather", "iot.system.buckets.raw"}, nil, []string{"iot.weather"}, []string{"lab.w2"})
	if err != nil {
		t.Fatal(err)
	}
	for ns, want := range map[[2]string]bool{
		{"iot", "weather"}: true, {"iot", "system.buckets.weather"}: true,
		{"iot", "system.buckets.raw"}: true, {"iot", "raw"}: false,
		{"iot", "system.buckets.other"}: false, {"other", "system.buckets.weather"}: false,
	} {
		if got := n.Selected(ns[0], ns[1]); got != want {
			t.Errorf("Selected(%s.%s) = %v, want %v", ns[0], ns[1], got, want)
		}
	}
	if db, c := n.Rename("iot", "system.buckets.weather"); db != "lab" || c != "system.buckets.w2" {
		t.Errorf("the buckets of iot.weather renamed to %s.%s, want lab.system.buckets.w2", db, c)
	}
	if db, c := n.Rename("iot", "weather"); db != "lab" || c != "w2" {
		t.Errorf("iot.weather renamed to %s.%s, want lab.w2", db, c)
	}
	ex, err := NewNamespaces(nil, []string{"iot.weather"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ex.Selected("iot", "system.buckets.weather") || !ex.Selected("iot", "system.buckets.other") {
		t.Error("excluding iot.weather must exclude its buckets, and only its")
	}
}

func TestClassify(t *testing.T) {
	cases := []struct {
		op, db, coll string
		mig          bool
		want         Kind
	}{
		{"i", "shop", "orders", false, User},
		{"n", "", "", false, NoOp},
		{"i", "local", "oplog.rs", false, Internal},
		{"u", "config", "transactions", false, Internal},
		{"i", "admin", "system.users", false, UsersAndRoles},
		{"i", "admin", "system.version", false, Internal},
		{"i", "shop", "system.profile", false, Internal},
		{"i", "shop", "system.views", false, User},
		{"u", "metrics", "system.buckets.cpu", false, User},
		{"i", "metrics", "system.bucketsx", false, Internal},
		{"i", "shop", "orders", true, Migration},
	}
	for _, c := range cases {
		if got := Classify(c.op, c.db, c.coll, c.mig); got != c.want {
			t.Errorf("Classify(%s %s.%s migrate=%v) = %v, want %v", c.op, c.db, c.coll, c.mig, got, c.want)
		}
	}
}
