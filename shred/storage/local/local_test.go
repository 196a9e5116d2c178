package local_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cryptoshred/cryptoshred/shred/errs"
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

// A FIFO planted where a ciphertext should be is refused at once: reading
// it (to re-hash a held backup, say) would wait for a writer for ever.
func TestOpenRefusesAFIFOWithoutWaiting(t *testing.T) {
	loc := filepath.Join(t.TempDir(), "x.age")
	if err := syscall.Mkfifo(loc, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		r, err := local.New().Open(t.Context(), loc)
		if err == nil {
			r.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "is not a regular file") {
			t.Fatalf("Open of a FIFO: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Open of a FIFO blocked")
	}
}

// A file opened for a command that is then interrupted (its context
// cancelled) reads no further: verify and open stop at once rather than
// reading a large ciphertext to its end.
func TestOpenStopsReadingOnceCancelled(t *testing.T) {
	loc := filepath.Join(t.TempDir(), "x.age")
	if err := os.WriteFile(loc, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r, err := local.New().Open(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := io.ReadFull(r, make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}
	cancel()
	if n, err := io.Copy(io.Discard, r); n != 0 || !errors.Is(err, context.Canceled) {
		t.Fatalf("after cancel: read %d more bytes, %v", n, err)
	}
}

// TestOpenTellsSomethingElseThereFromNothing: a directory, a FIFO, a
// socket, a symbolic link loop or a parent that is a file where a ciphertext should
// be is storage.ErrNotAFile, not "not found" (nothing is there) and not an
// error that says nothing of the location: backup verify raises the
// tamper alarm for it, where an attestation cannot tell what it holds.
func TestOpenTellsSomethingElseThereFromNothing(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	loop := filepath.Join(dir, "loop")
	fifo := filepath.Join(dir, "fifo")
	if os.WriteFile(file, []byte("x"), 0o600) != nil || os.Symlink(loop, loop) != nil || syscall.Mkfifo(fifo, 0o600) != nil {
		t.Fatal("setting up the locations")
	}
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, loc := range []string{dir, fifo, loop, sock, filepath.Join(file, "x.age")} {
		_, err := local.New().Open(t.Context(), loc)
		if !errors.Is(err, storage.ErrNotAFile) || errors.Is(err, errs.ErrNotFound) {
			t.Errorf("Open(%s) = %v, want storage.ErrNotAFile", loc, err)
		}
	}
	if _, err := local.New().Open(t.Context(), filepath.Join(dir, "none")); !errors.Is(err, errs.ErrNotFound) || errors.Is(err, storage.ErrNotAFile) {
		t.Errorf("Open of nothing = %v, want errs.ErrNotFound", err)
	}
}
