package shred_test

import (
	"cmp"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cryptoshred/cryptoshred/internal/vaulttest"
	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/storage"
	"github.com/cryptoshred/cryptoshred/shred/storage/local"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// interruptSize is large enough that a stream stopped after its first MiB
// plainly did not run to the end.
const interruptSize = 8 << 20

// cancelAfter returns a progress callback that cancels the context once
// at least n bytes are read, and the most it saw read.
func cancelAfter(n int64, cancel context.CancelFunc) (func(done, total int64), *int64) {
	var most int64
	return func(done, total int64) {
		most = max(most, done)
		if done >= n {
			cancel()
		}
	}, &most
}

// cancelAtEOF returns a progress callback that cancels the context on the
// read that finds the end of the data (the second report of the whole
// size): every byte is read, and nothing is committed yet.
func cancelAtEOF(cancel context.CancelFunc) func(done, total int64) {
	seenAll := false
	return func(done, total int64) {
		if done == total && seenAll {
			cancel()
		}
		seenAll = done == total
	}
}

// checkInterrupted fails unless err is an interruption.
func checkInterrupted(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "interrupted: ") {
		t.Fatalf("want an interruption, got %v", err)
	}
}

// checkEmptyDir fails unless dir holds nothing: no output, no temporary
// file.
func checkEmptyDir(t *testing.T, dir string) {
	t.Helper()
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Fatalf("%s holds %v (%v), want nothing", dir, entries, err)
	}
}

// An open cancelled mid-stream (Ctrl-C) stops reading the ciphertext at
// once, returns the interruption, and leaves neither the output nor a
// temporary file; also from a store whose reads ignore the context, which
// the decryption stops itself.
func TestOpenStopsWhenInterrupted(t *testing.T) {
	srv, v := newVault(t)
	b, _ := protect(t, v, randomBytes(t, interruptSize))
	deaf := withStorage(t, srv, deafStorage{local.New()})
	for name, v := range map[string]*shred.Service{"file": v, "reads that ignore the context": deaf} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			progress, most := cancelAfter(1<<20, cancel)
			dir := t.TempDir()
			_, err := v.Restore(ctx, admin, shred.RestoreRequest{ID: b.ID, Purpose: "interrupted restore",
				Output: filepath.Join(dir, "restored"), Progress: progress})
			checkInterrupted(t, err)
			checkEmptyDir(t, dir)
			if *most > 2<<20 {
				t.Fatalf("read %d of %d bytes after the interruption at 1 MiB", *most, b.Ciphertext.Size)
			}
		})
	}
}

// withStorage returns a root-token service over srv that keeps its
// ciphertexts in st.
func withStorage(t *testing.T, srv *vaulttest.Server, st storage.Resolver) *shred.Service {
	keys := vault.New(srv.Root(t), vault.DefaultMounts)
	return shred.New(shred.Config{Records: keys, Keys: keys, Guard: keys, Signer: keys, Storage: st})
}

// deafStorage is the local back end, opening files for reads that ignore
// the context, as a back end may.
type deafStorage struct{ *local.Backend }

func (d deafStorage) For(string) (storage.Backend, error) { return d, nil }

func (d deafStorage) Open(_ context.Context, loc string) (io.ReadCloser, error) {
	return d.Backend.Open(context.Background(), loc)
}

// closeCancels is the local back end, whose opened files cancel a context
// when closed: after an open's last read, before its output is committed.
type closeCancels struct {
	*local.Backend
	cancel context.CancelFunc
}

func (c closeCancels) For(string) (storage.Backend, error) { return c, nil }

func (c closeCancels) Open(ctx context.Context, loc string) (io.ReadCloser, error) {
	r, err := c.Backend.Open(ctx, loc)
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{r, closerFunc(func() error { c.cancel(); return r.Close() })}, nil
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

// An open interrupted after every byte was read and authenticated, but
// before its output was committed, commits nothing either.
func TestOpenInterruptedBeforeCommitLeavesNoOutput(t *testing.T) {
	srv, v := newVault(t)
	b, _ := protect(t, v, randomBytes(t, 100<<10))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cut := withStorage(t, srv, closeCancels{Backend: local.New(), cancel: cancel})
	dir := t.TempDir()
	_, err := cut.Restore(ctx, admin, shred.RestoreRequest{ID: b.ID, Purpose: "interrupted restore", Output: filepath.Join(dir, "restored")})
	checkInterrupted(t, err)
	checkEmptyDir(t, dir)
}

// interruptedProtect protects a file of size bytes with progress made
// from cancel, and checks that it was interrupted, committed no
// ciphertext, and registered nothing: the backup it began says failed,
// and why. It returns the source, for a re-run.
func interruptedProtect(t *testing.T, v *shred.Service, size int, progress func(context.CancelFunc) func(done, total int64)) string {
	t.Helper()
	src := writeFile(t, t.TempDir(), "casework.tar", randomBytes(t, size))
	out := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := v.Protect(ctx, admin, shred.ProtectRequest{Source: src, OutDir: out, System: "casework", Progress: progress(cancel)})
	checkInterrupted(t, err)
	checkEmptyDir(t, out)
	backups, _, err := v.ListBackups(context.Background(), catalog.BackupFilter{})
	if err != nil || len(backups) != 1 {
		t.Fatalf("backups after the interruption: %v %v", backups, err)
	}
	if b := backups[0]; b.Registered || b.State != catalog.StateFailed || !strings.Contains(b.FailedReason, "interrupted") {
		t.Fatalf("the interrupted backup: registered %v, state %s (%q)", b.Registered, b.State, b.FailedReason)
	}
	return src
}

// A protect cancelled mid-stream stops reading the plaintext at once,
// writes no ciphertext and registers nothing; protecting the file again
// then works.
func TestProtectStopsWhenInterrupted(t *testing.T) {
	_, v := newVault(t)
	var most *int64
	src := interruptedProtect(t, v, interruptSize, func(cancel context.CancelFunc) func(done, total int64) {
		progress, m := cancelAfter(1<<20, cancel)
		most = m
		return progress
	})
	if *most > 2<<20 {
		t.Fatalf("read %d of %d bytes after the interruption at 1 MiB", *most, interruptSize)
	}
	b, err := v.Protect(context.Background(), admin, shred.ProtectRequest{Source: src, OutDir: t.TempDir(), System: "again"})
	if err != nil || !b.Registered {
		t.Fatalf("protect after the interruption: %+v %v", b, err)
	}
}

// A protect interrupted once the whole file is read and encrypted, before
// the ciphertext is committed, commits nothing either.
func TestProtectInterruptedBeforeCommitLeavesNoCiphertext(t *testing.T) {
	_, v := newVault(t)
	interruptedProtect(t, v, 100<<10, cancelAtEOF)
}

// An interrupted backup verify is an error, not a list of ciphertexts
// that failed to check out (which the CLI would report as exit 5); but a
// ciphertext it found missing before it stopped is in that error.
func TestVerifyInterruptedIsAnError(t *testing.T) {
	srv, v := newVault(t)
	b, _ := protect(t, v, []byte("verify me"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := v.VerifyBackups(ctx, []string{b.ID}, "")
	checkInterrupted(t, err)
	if errors.Is(err, shred.ErrCiphertextChanged) {
		t.Fatalf("an interrupted verify says a ciphertext changed: %v", err)
	}
	gone, _ := protect(t, v, []byte("deleted behind our back"))
	if err := os.Remove(gone.Ciphertext.Path); err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	st := openCancelsAfter{Backend: local.New(), cancel: cancel, at: b.Ciphertext.Path, after: gone.Ciphertext.Path, opened: make(chan struct{})}
	_, err = withStorage(t, srv, st).VerifyBackups(ctx, []string{gone.ID, b.ID}, "")
	checkInterrupted(t, err)
	if !errors.Is(err, shred.ErrCiphertextChanged) || !strings.Contains(err.Error(), gone.ID) {
		t.Fatalf("an interrupted verify drops the ciphertext it found missing: %v", err)
	}
}

// openCancelsAfter is the local back end, whose Open of at cancels a
// context once after has been opened.
type openCancelsAfter struct {
	*local.Backend
	cancel    context.CancelFunc
	at, after string
	opened    chan struct{}
}

func (o openCancelsAfter) For(string) (storage.Backend, error) { return o, nil }

func (o openCancelsAfter) Open(ctx context.Context, loc string) (io.ReadCloser, error) {
	switch loc {
	case o.after:
		defer close(o.opened)
	case o.at:
		<-o.opened
		o.cancel()
	}
	return o.Backend.Open(ctx, loc)
}

// openCancels is the local back end, whose Open cancels a context: hold
// place opens ciphertexts only to re-hash them, after every hold is
// placed and recorded.
type openCancels struct {
	*local.Backend
	cancel context.CancelFunc
}

func (o openCancels) For(string) (storage.Backend, error) { return o, nil }

func (o openCancels) Open(ctx context.Context, loc string) (io.ReadCloser, error) {
	o.cancel()
	return o.Backend.Open(ctx, loc)
}

// A hold place interrupted while it re-hashes the held ciphertexts says
// so once, and that the holds stand; it reports no ciphertext as
// unreadable.
func TestHoldPlaceInterruptedWhileRehashing(t *testing.T) {
	srv, v := newVault(t)
	a, _ := protect(t, v, []byte("first"))
	b, _ := protect(t, v, []byte("second"))
	openCase(t, v, "REHASH")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	held, err := withStorage(t, srv, openCancels{local.New(), cancel}).PlaceHolds(ctx, compliance, "REHASH", shred.HoldSelector{IDs: []string{a.ID, b.ID}})
	checkInterrupted(t, err)
	if len(held) != 2 || strings.Count(err.Error(), "interrupted") != 1 || !strings.Contains(err.Error(), "the holds are placed") {
		t.Fatalf("held %v: %v", held, err)
	}

	// A ciphertext found missing before the interruption is reported.
	c, _ := protect(t, v, []byte("third"))
	gone, _ := protect(t, v, []byte("deleted behind our back"))
	if err := os.Remove(gone.Ciphertext.Path); err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	st := openCancelsAfter{Backend: local.New(), cancel: cancel, at: c.Ciphertext.Path, after: gone.Ciphertext.Path, opened: make(chan struct{})}
	_, err = withStorage(t, srv, st).PlaceHolds(ctx, compliance, "REHASH", shred.HoldSelector{IDs: []string{c.ID, gone.ID}})
	checkInterrupted(t, err)
	if !errors.Is(err, shred.ErrCiphertextChanged) || !strings.Contains(err.Error(), gone.ID) {
		t.Fatalf("an interrupted re-hash drops the ciphertext it found missing: %v", err)
	}
}

// lateCommit is the local back end, whose uploads commit (the file is
// linked into place) and then report what after says, as a commit that
// went through but whose answer was lost or failed at its last step.
type lateCommit struct {
	*local.Backend
	after func(context.Context) error
}

func (l lateCommit) For(string) (storage.Backend, error) { return l, nil }

func (l lateCommit) Create(ctx context.Context, loc string) (storage.Upload, error) {
	up, err := l.Backend.Create(ctx, loc)
	return lateUpload{up, l.after}, err
}

type lateUpload struct {
	storage.Upload
	after func(context.Context) error
}

func (u lateUpload) Commit(ctx context.Context) (string, error) {
	loc, err := u.Upload.Commit(ctx)
	return loc, cmp.Or(err, u.after(ctx))
}

// protectResumed checks that the one backup v knows is protecting, and
// that protecting src into out again resumes and registers it.
func protectResumed(t *testing.T, v *shred.Service, src, out string) {
	t.Helper()
	backups, _, err := v.ListBackups(context.Background(), catalog.BackupFilter{})
	if err != nil || len(backups) != 1 || backups[0].State != catalog.StateProtecting {
		t.Fatalf("backups after the commit: %+v %v", backups, err)
	}
	b, err := v.Protect(context.Background(), admin, shred.ProtectRequest{Source: src, OutDir: out, System: "casework"})
	if err != nil || !b.Registered || b.ID != backups[0].ID {
		t.Fatalf("the re-run: %+v %v", b, err)
	}
}

// A protect interrupted while its commit is under way (the commit goes
// through, as an S3 upload cancelled mid-commit may, but reports the
// cancellation) finishes the commit and leaves the backup protecting, as
// a re-run resumes it. Before, protect recorded the backup failed, which
// no re-run resumes, beside a ciphertext it refused to overwrite.
func TestProtectInterruptedMidCommitIsResumed(t *testing.T) {
	srv, v := newVault(t)
	src, out := writeFile(t, t.TempDir(), "casework.tar", []byte("casework")), t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cancelling := lateCommit{local.New(), func(ctx context.Context) error { cancel(); return ctx.Err() }}
	_, err := withStorage(t, srv, cancelling).Protect(ctx, admin, shred.ProtectRequest{Source: src, OutDir: out, System: "casework"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("protect interrupted mid-commit: %v", err)
	}
	protectResumed(t, v, src, out)
}

// A commit that fails once the ciphertext may be in place (here its
// directory sync) leaves the backup protecting, which a re-run resumes
// and registers. Before, it was recorded failed, which no re-run resumes,
// beside a ciphertext that a re-run refused to overwrite and register
// refused as in the catalog.
func TestProtectWhoseCommitFailedLateIsResumed(t *testing.T) {
	srv, v := newVault(t)
	src, out := writeFile(t, t.TempDir(), "casework.tar", []byte("pg_dump output")), t.TempDir()
	syncFails := lateCommit{local.New(), func(context.Context) error { return errors.New("failed to sync directory: input/output error") }}
	_, err := withStorage(t, srv, syncFails).Protect(context.Background(), admin, shred.ProtectRequest{Source: src, OutDir: out, System: "casework"})
	if err == nil || !strings.Contains(err.Error(), "protect the same file again") {
		t.Fatalf("protect whose commit failed late: %v", err)
	}
	protectResumed(t, v, src, out)
}
