package shred

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks Linux to begin writing a range of f to disk without
// waiting for it; errors surface at the final sync.
func startWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}
