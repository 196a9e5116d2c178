//go:build !linux

package fsutil

import (
	"errors"
	"os"
)

// startWriteback does nothing where there is no sync_file_range: the
// final sync writes everything.
func startWriteback(*os.File, int64, int64) {}

// openAnonymous returns nil: unnamed files are a Linux feature, and
// Create falls back to a named temporary file.
func openAnonymous(string) *os.File { return nil }

func linkAnonymous(*os.File, string) error { return errors.New("unnamed files are not supported here") }
