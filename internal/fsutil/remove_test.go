package fsutil

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
)

func accept(io.Reader) error { return nil }

func TestRemoveCheckedRemovesAcceptedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.age")
	os.WriteFile(path, []byte("age"), 0o600)
	if err := RemoveChecked(path, accept); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("file still there: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 0 {
		t.Fatalf("left behind %v", entries)
	}
}

func TestRemoveCheckedRefuses(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "signer.key")
	os.WriteFile(victim, []byte("secret"), 0o600)
	link := filepath.Join(dir, "link.age")
	os.Symlink(victim, link)
	fifo := filepath.Join(dir, "fifo.age")
	syscall.Mkfifo(fifo, 0o600)
	rejected := filepath.Join(dir, "other.age")
	os.WriteFile(rejected, []byte("not ours"), 0o600)
	linked := filepath.Join(dir, "linked.age")
	os.WriteFile(linked, []byte("also under another name"), 0o600)
	os.Link(linked, filepath.Join(dir, "snapshot-of-linked.age"))
	for name, tc := range map[string]struct {
		path  string
		check func(io.Reader) error
	}{
		"symlink":  {link, accept},
		"fifo":     {fifo, accept},
		"rejected": {rejected, func(io.Reader) error { return errors.New("names another key") }},
		"dir":      {dir, accept},
		"linked":   {linked, accept},
	} {
		if name == "linked" && runtime.GOOS != "linux" {
			continue // the link count is read on Linux only (remove_other.go)
		}
		if err := RemoveChecked(tc.path, tc.check); !errors.Is(err, ErrNotRemovable) {
			t.Errorf("%s: %v, want ErrNotRemovable", name, err)
		}
		if _, err := os.Lstat(tc.path); err != nil {
			t.Errorf("%s: removed anyway: %v", name, err)
		}
	}
	if b, _ := os.ReadFile(victim); string(b) != "secret" {
		t.Fatal("the symlink's target was touched")
	}
}

func TestRemoveCheckedMissing(t *testing.T) {
	if err := RemoveChecked(filepath.Join(t.TempDir(), "gone.age"), accept); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%v, want ErrNotExist", err)
	}
}

func TestRemoveCheckedKeepsFileSwappedDuringCheck(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.age")
	os.WriteFile(path, []byte("checked"), 0o600)
	swap := func(io.Reader) error {
		os.Rename(path, path+".orig")
		return os.WriteFile(path, []byte("held backup"), 0o600)
	}
	if err := RemoveChecked(path, swap); !errors.Is(err, ErrNotRemovable) {
		t.Fatalf("%v, want ErrNotRemovable", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "held backup" {
		t.Fatalf("the file swapped in was not kept: %q", b)
	}
}
