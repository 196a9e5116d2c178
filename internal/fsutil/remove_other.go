//go:build !linux

package fsutil

import (
	"fmt"
	"os"
	"path/filepath"
)

// openNoFollow opens name in directory d, refusing a symbolic link. The
// check is not atomic where there is no O_NOFOLLOW through openat.
func openNoFollow(d *os.File, name string) (*os.File, error) {
	path := filepath.Join(d.Name(), name)
	if st, err := os.Lstat(path); err != nil {
		return nil, err
	} else if st.Mode()&os.ModeSymlink != 0 || !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w %s: not a regular file", ErrNotRemovable, name)
	}
	return os.Open(path)
}

// removeSame removes name if it is still the file f.
func removeSame(d *os.File, name string, f *os.File) error {
	path := filepath.Join(d.Name(), name)
	st, err := os.Lstat(path)
	if err != nil {
		return err
	}
	opened, err := f.Stat()
	if err != nil || !os.SameFile(st, opened) {
		return fmt.Errorf("%w %s: it was replaced while being checked", ErrNotRemovable, name)
	}
	return os.Remove(path)
}

// linkCount is how many names the file has; not known here.
func linkCount(os.FileInfo) uint64 { return 1 }
