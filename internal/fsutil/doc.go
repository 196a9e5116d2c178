// Package fsutil writes outputs atomically and hashes streams: an output
// appears under its name only complete and synced, and every digest is
// computed in the same pass as the copy it describes.
package fsutil

import (
	"fmt"
	"os"
	"path/filepath"
)

// OpenRegular opens path, a regular file, by its absolute name. It refuses
// anything else (a directory, a FIFO, a device) before reading from it.
func OpenRegular(path string) (*os.File, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(abs); err == nil && !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	f, err := os.Open(abs)
	if err != nil {
		return nil, fmt.Errorf("failed to read %s: %w", path, err)
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	return f, nil
}
