package fsutil

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// ErrNotRemovable marks a file RemoveChecked refused to remove: a
// symbolic link, not a regular file, one its check rejected, or one that
// was replaced while it was being checked.
var ErrNotRemovable = errors.New("refused to remove")

// RemoveChecked removes the regular file at path only if check accepts
// its content and no other name links to it, and removes that very file: the one opened and checked
// (same device and inode), not whatever the name points to a moment
// later. It never follows a symbolic link in the last component. check
// reads as much of the file as it needs. A missing file returns an error
// wrapping fs.ErrNotExist. The directory is not synced; see SyncDir.
func RemoveChecked(path string, check func(io.Reader) error) error {
	dir, base := filepath.Split(path)
	d, err := os.Open(filepath.Clean(dir))
	if err != nil {
		return err
	}
	defer d.Close()
	f, err := openNoFollow(d, base)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := checkRegular(f, check); err != nil {
		return fmt.Errorf("%w %s: %w", ErrNotRemovable, path, err)
	}
	return removeSame(d, base, f)
}

func checkRegular(f *os.File, check func(io.Reader) error) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return errors.New("not a regular file")
	}
	if n := linkCount(st); n > 1 {
		return fmt.Errorf("it has %d names (hard links): removing this one would leave its data under the others", n)
	}
	return check(f)
}
