package fsutil

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks Linux to begin writing a range of f to disk without
// waiting for it; errors surface at the final sync.
func startWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}

// openAnonymous opens an unnamed file in dir (O_TMPFILE), or returns nil
// where the file system does not support it.
func openAnonymous(dir string) *os.File {
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil
	}
	return os.NewFile(uintptr(fd), dir+"/(unnamed)")
}

// linkAnonymous names an O_TMPFILE file; it fails if name exists.
func linkAnonymous(f *os.File, name string) error {
	return unix.Linkat(unix.AT_FDCWD, fmt.Sprintf("/proc/self/fd/%d", f.Fd()), unix.AT_FDCWD, name, unix.AT_SYMLINK_FOLLOW)
}
