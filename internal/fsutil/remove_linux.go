package fsutil

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// openNoFollow opens name in directory d for reading without following a
// symbolic link and without blocking on a FIFO.
func openNoFollow(d *os.File, name string) (*os.File, error) {
	fd, err := unix.Openat(int(d.Fd()), name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ELOOP) {
		return nil, fmt.Errorf("%w %s: it is a symbolic link", ErrNotRemovable, name)
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fd), name), nil
}

// removeSame moves name aside under a fresh name, checks that what moved
// is the file f that was checked, and only then unlinks it; anything else
// is moved back.
func removeSame(d *os.File, name string, f *os.File) error {
	aside := ".cryptoshred-removing-" + randomSuffix()
	dfd := int(d.Fd())
	if err := unix.Renameat2(dfd, name, dfd, aside, unix.RENAME_NOREPLACE); err != nil {
		return &os.PathError{Op: "rename", Path: name, Err: err}
	}
	same, err := sameFile(dfd, aside, f)
	if err != nil || !same {
		_ = unix.Renameat2(dfd, aside, dfd, name, unix.RENAME_NOREPLACE)
		return fmt.Errorf("%w %s: it was replaced while being checked", ErrNotRemovable, name)
	}
	if err := unix.Unlinkat(dfd, aside, 0); err != nil {
		return &os.PathError{Op: "unlink", Path: name, Err: err}
	}
	return nil
}

func sameFile(dfd int, name string, f *os.File) (bool, error) {
	var moved, opened unix.Stat_t
	if err := unix.Fstatat(dfd, name, &moved, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return false, err
	}
	if err := unix.Fstat(int(f.Fd()), &opened); err != nil {
		return false, err
	}
	return moved.Dev == opened.Dev && moved.Ino == opened.Ino, nil
}

func randomSuffix() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// linkCount is how many names (hard links) the file has.
func linkCount(st os.FileInfo) uint64 {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return uint64(s.Nlink)
	}
	return 1
}
