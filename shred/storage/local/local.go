// Package local stores ciphertexts as files in local directories.
package local

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/cryptoshred/cryptoshred/internal/ctxio"
	"github.com/cryptoshred/cryptoshred/internal/fsutil"
	"github.com/cryptoshred/cryptoshred/shred/errs"
	"github.com/cryptoshred/cryptoshred/shred/storage"
)

// Backend stores each ciphertext as a file named by its absolute path.
// Files are written atomically (see fsutil.Create) and deletions are
// synced to their directory.
type Backend struct{}

// New returns the local file back end.
func New() *Backend { return &Backend{} }

// Properties implements storage.Backend: a file system offers no hold.
func (*Backend) Properties() storage.Properties { return storage.Properties{Name: "file"} }

// Locate implements storage.Backend: dest must be an existing directory.
func (*Backend) Locate(dest, name string) (string, error) {
	if st, err := os.Stat(dest); err != nil || !st.IsDir() {
		return "", fmt.Errorf("output directory %s does not exist or is not a directory", dest)
	}
	return filepath.Abs(filepath.Join(dest, name))
}

// Create implements storage.Backend.
func (*Backend) Create(_ context.Context, loc string) (storage.Upload, error) {
	f, err := fsutil.Create(loc)
	if err != nil {
		return nil, err
	}
	return upload{f}, nil
}

type upload struct{ *fsutil.AtomicFile }

func (u upload) Commit(context.Context) (string, error) { return u.Final(), u.AtomicFile.Commit() }

// For implements storage.Resolver: every location is a local file.
func (b *Backend) For(string) (storage.Backend, error) { return b, nil }

// Open implements storage.Backend. Only a regular file is opened. Its
// reads fail once ctx is done (ctxio.Reader): a file never looks at a
// context, and an interrupted open or verify must stop, not read on.
func (*Backend) Open(ctx context.Context, loc string) (io.ReadCloser, error) {
	// O_NONBLOCK: a FIFO planted at loc must be refused, not waited on.
	f, err := os.OpenFile(loc, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, notAFile(loc, notFound(err))
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, cmp.Or(err, fmt.Errorf("%w: %s is not a regular file", storage.ErrNotAFile, loc))
	}
	return ctxio.ReadCloser(ctx, f), nil
}

// notAFile marks an open's error that says something other than a
// regular file is at loc or on its way: a parent that is a file, a
// symbolic link loop, a socket.
func notAFile(loc string, err error) error {
	if errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.ENXIO) {
		return fmt.Errorf("%w: %s: %w", storage.ErrNotAFile, loc, err)
	}
	return err
}

// Stat implements storage.Backend. A symbolic link is described, not
// followed.
func (*Backend) Stat(_ context.Context, loc string) (storage.Info, error) {
	st, err := os.Lstat(loc)
	if err != nil {
		return storage.Info{}, notFound(err)
	}
	return storage.Info{Size: st.Size()}, nil
}

// Delete implements storage.Backend: each file is removed only if it is
// a regular file its Check accepts (see fsutil.RemoveChecked), and each
// directory is synced once.
func (*Backend) Delete(_ context.Context, objs []storage.Object) []storage.Result {
	out := make([]storage.Result, len(objs))
	dirs := map[string][]int{}
	for i, o := range objs {
		if err := fsutil.RemoveChecked(o.Loc, o.Check); err != nil {
			out[i].Err = notFound(err)
			continue
		}
		out[i].Removed = []string{o.Loc}
		dirs[filepath.Dir(o.Loc)] = append(dirs[filepath.Dir(o.Loc)], i)
	}
	for dir, items := range dirs {
		if err := fsutil.SyncDir(dir); err != nil {
			for _, i := range items {
				out[i].Err = fmt.Errorf("%w: %v", storage.ErrNotDurable, err)
			}
		}
	}
	return out
}

// Find implements storage.Backend: the file at obj.Loc, if the check
// accepts it. What Open refuses (something other than a regular file)
// is an error: it cannot be checked.
func (b *Backend) Find(ctx context.Context, obj storage.Object) ([]string, error) {
	r, err := b.Open(ctx, obj.Loc)
	if errors.Is(err, errs.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer r.Close()
	switch err := obj.Check(io.LimitReader(r, storage.CheckBytes)); {
	case errors.Is(err, storage.ErrUnchecked):
		return nil, fmt.Errorf("failed to read %s: %w", obj.Loc, err)
	case err != nil:
		return nil, nil
	}
	return []string{obj.Loc}, nil
}

func notFound(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %w", errs.ErrNotFound, err)
	}
	return err
}
