package checkpoint

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/store"
)

// A damaged Pebble table is ErrCorrupt, naming the directory and what to
// do, whether Open meets it or a read long after: never a panic (Pebble's
// default for corruption is a fatal error).
func TestDamagedTable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ckpt")
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The format key in one table, the gaps in a later one.
	if err := d.pdb.Flush(); err != nil {
		t.Fatal(err)
	}
	before := tables(t, dir)
	for i := range 30 {
		g := store.Gap{After: oplog.Timestamp{T: 1700000000, I: uint32(i + 1)}, Next: oplog.Timestamp{T: 1700000100, I: 1},
			Detected: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Reason: fmt.Sprint("gap ", i)}
		if err := d.RecordGap("rs0", g); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.pdb.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	var gapsTable string
	for p := range tables(t, dir) {
		if !before[p] {
			gapsTable = p
		}
	}
	if gapsTable == "" {
		t.Fatal("no table holds the gaps")
	}
	data, err := os.ReadFile(gapsTable)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/4] ^= 0xff
	if err := os.WriteFile(gapsTable, data, 0o644); err != nil {
		t.Fatal(err)
	}

	d, err = Open(dir)
	if err != nil {
		checkDamaged(t, "Open", err, dir)
		return
	}
	defer d.Close()
	_, err = d.Gaps("rs0")
	checkDamaged(t, "Gaps", err, dir)
}

func checkDamaged(t *testing.T, what string, err error, dir string) {
	t.Helper()
	abs, _ := filepath.Abs(dir)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), abs) || !strings.Contains(err.Error(), "move it aside") ||
		!strings.Contains(err.Error(), "checksum mismatch") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("%s of a damaged table: %v; want ErrCorrupt naming %s, the damage and what to do, on one line", what, err, abs)
	}
}

func tables(t *testing.T, dir string) map[string]bool {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.sst"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, p := range paths {
		out[p] = true
	}
	return out
}
