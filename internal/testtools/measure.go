package testtools

import (
	"os"
	"strconv"
	"strings"

	"golang.org/x/sync/errgroup"
)

// ResetPeakRSS resets this process's peak resident set size (Linux
// clear_refs 5), so that PeakRSSKiB measures from now.
func ResetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// PeakRSSKiB returns this process's peak resident set size in KiB
// (VmHWM, Linux), or 0 if it cannot be read. A child process must report
// its own: the rusage of one started with vfork also counts the memory of
// the parent it was started from.
func PeakRSSKiB() int64 {
	raw, _ := os.ReadFile("/proc/self/status")
	for l := range strings.Lines(string(raw)) {
		if rest, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// Each calls fn for 0 to n-1, at most limit at a time, and returns the
// first error.
func Each(n, limit int, fn func(int) error) error {
	var g errgroup.Group
	g.SetLimit(limit)
	for i := range n {
		g.Go(func() error { return fn(i) })
	}
	return g.Wait()
}
