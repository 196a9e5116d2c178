package main

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY returns the two ends of a new pseudo-terminal, so a test can
// give the CLI a stderr that is a terminal and read what it drew.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	fd := int(m.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Skipf("ptsname: %v", err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open pts: %v", err)
	}
	t.Cleanup(func() { s.Close(); m.Close() })
	return m, s
}

// terminalRecorder returns a terminal to give the CLI as stderr, and a
// function that waits (up to 5 s) until what was drawn on it holds every
// one of want, and returns what was drawn.
func terminalRecorder(t *testing.T) (*os.File, func(want ...string) string) {
	master, slave := openPTY(t)
	return slave, recordTerminal(master)
}

// recordTerminal reads what is drawn on the terminal whose master end is
// master, and returns a function that waits (up to 5 s) until it holds
// every one of want, and returns what was drawn.
func recordTerminal(master *os.File) func(want ...string) string {
	var mu sync.Mutex
	var drawn bytes.Buffer
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			mu.Lock()
			drawn.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return func(want ...string) string {
		var shown string
		for range 50 {
			mu.Lock()
			shown = drawn.String()
			mu.Unlock()
			if containsAll(shown, want) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		return shown
	}
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
