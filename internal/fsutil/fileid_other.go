//go:build !linux

package fsutil

import (
	"os"
	"time"
)

// FileIDOf returns ok false where the inode change time is not read: a
// protect there records and compares only the size and modification time.
func FileIDOf(os.FileInfo) (dev, ino uint64, ctime time.Time, ok bool) {
	return 0, 0, time.Time{}, false
}
