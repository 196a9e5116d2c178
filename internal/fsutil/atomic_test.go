package fsutil

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// CheckCreatable refuses a name that exists, a missing directory and a
// directory no file can be created in (/proc, even for root), names no
// temporary file in its error, and leaves nothing behind; Create's error
// names no temporary file either.
func TestCheckCreatableTriesTheDirectory(t *testing.T) {
	dir := t.TempDir()
	taken := filepath.Join(dir, "taken.json")
	if err := os.WriteFile(taken, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := CheckCreatable(filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("left behind: %v", entries)
	}
	cases := map[string]string{
		taken:                              taken + " already exists: refusing to overwrite it",
		filepath.Join(dir, "no", "x.json"): "its directory " + filepath.Join(dir, "no") + " does not exist",
		filepath.Join(taken, "x.json"):     "its directory " + taken + " does not exist or is not a directory",
	}
	if runtime.GOOS == "linux" {
		cases["/proc/x.json"] = "cannot create /proc/x.json: no file can be created in its directory /proc: "
	}
	for name, want := range cases {
		err := CheckCreatable(filepath.Join(dir, "ok.json"), name)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckCreatable(%s) = %v, want %q", name, err, want)
		}
		if _, err := Create(name); err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), ".tmp") {
			t.Errorf("Create(%s) = %v, want %q", name, err, want)
		}
	}
}
