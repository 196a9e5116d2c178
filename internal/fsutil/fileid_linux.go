package fsutil

import (
	"os"
	"syscall"
	"time"
)

// FileIDOf returns the device, inode and inode change time of the file
// st describes, or ok false if the system does not give them. Unlike the
// size and modification time (cp -p, rsync -t, tar x and touch set
// them), no user sets the change time: a file written again gets a new
// one.
func FileIDOf(st os.FileInfo) (dev, ino uint64, ctime time.Time, ok bool) {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, time.Time{}, false
	}
	return uint64(sys.Dev), sys.Ino, time.Unix(int64(sys.Ctim.Sec), int64(sys.Ctim.Nsec)).UTC(), true //nolint:unconvert // Dev and Sec differ by architecture
}
