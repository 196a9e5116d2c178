package local_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cryptoshred/cryptoshred/shred/storage"
	"github.com/cryptoshred/cryptoshred/shred/storage/local"
	"github.com/cryptoshred/cryptoshred/shred/storage/storagetest"
)

func TestSuite(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) (storage.Backend, string) {
		return local.New(), t.TempDir()
	})
}

func TestLocateRefusesMissingDirectory(t *testing.T) {
	if _, err := local.New().Locate(filepath.Join(t.TempDir(), "nope"), "x.age"); err == nil {
		t.Fatal("Locate accepted a missing directory")
	}
}

func TestCreatedFilesAreOwnerOnly(t *testing.T) {
	b, dir := local.New(), t.TempDir()
	loc, _ := b.Locate(dir, "x.age")
	up, err := b.Create(t.Context(), loc)
	if err != nil {
		t.Fatal(err)
	}
	up.Write([]byte("x"))
	if _, err := up.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(loc)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v %v, want 0600", st.Mode(), err)
	}
}
