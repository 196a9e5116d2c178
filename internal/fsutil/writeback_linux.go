package fsutil

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// procSelfFD is where Linux shows the files a process has open: the only
// path through which linkAnonymous can name an unnamed file.
const procSelfFD = "/proc/self/fd"

// startWriteback asks Linux to begin writing a range of f to disk without
// waiting for it; errors surface at the final sync.
func startWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}

// openAnonymous opens an unnamed file in dir (O_TMPFILE), or returns nil
// where the file system does not support it or /proc cannot name it.
func openAnonymous(dir string) *os.File { return openAnonymousVia(dir, procSelfFD) }

// openAnonymousVia opens an unnamed file in dir and keeps it only if
// procFD shows it, so Create falls back to a named temporary file rather
// than write an output Commit could not link: without /proc (a chroot, a
// sandbox) the open succeeds and the link fails, and CheckDirCreatable,
// which opens as Create does, would pass a directory Commit then fails in.
func openAnonymousVia(dir, procFD string) *os.File {
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil
	}
	f := os.NewFile(uintptr(fd), dir+"/(unnamed)")
	if !shownIn(f, procFD) {
		_ = f.Close()
		return nil
	}
	return f
}

// shownIn reports whether f's entry under procFD is f itself, the file
// linkAnonymous would link, and not missing or some other file.
func shownIn(f *os.File, procFD string) bool {
	shown, err := os.Stat(fdPath(procFD, f))
	if err != nil {
		return false
	}
	own, err := f.Stat()
	return err == nil && os.SameFile(shown, own)
}

func fdPath(procFD string, f *os.File) string { return fmt.Sprintf("%s/%d", procFD, f.Fd()) }

// linkAnonymous names an O_TMPFILE file; it fails if name exists.
func linkAnonymous(f *os.File, name string) error {
	return unix.Linkat(unix.AT_FDCWD, fdPath(procSelfFD, f), unix.AT_FDCWD, name, unix.AT_SYMLINK_FOLLOW)
}
