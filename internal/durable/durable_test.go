package durable

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteFileReplacesWholeAndLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	for _, want := range []string{"first version", "second"} {
		if err := WriteFile(dir, "f", []byte(want)); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(dir, "f"))
		if err != nil || string(got) != want {
			t.Fatalf("f = %q, %v; want %q", got, err, want)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("directory holds %d entries, want only f", len(entries))
	}
	// A failed rename (onto a directory) keeps the old file and removes
	// the temporary one.
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "d", "x"), nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(dir, "d", []byte("x")); err == nil {
		t.Fatal("rename over a non-empty directory succeeded")
	}
	entries, _ = os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), TempPrefix) {
			t.Fatalf("temporary file %s left after a failed write", e.Name())
		}
	}
}
