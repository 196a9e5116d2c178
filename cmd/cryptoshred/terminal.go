package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/cryptoshred/cryptoshred/shred"
)

// isTerminal reports whether v is an *os.File attached to a terminal.
func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progressUpdater returns a progress callback, safe to call from several
// goroutines, that draws a bar on stderr when it is a terminal and does
// nothing otherwise.
func progressUpdater(stderr io.Writer, what string) (update func(done, total int), finish func()) {
	if !isTerminal(stderr) {
		return nil, func() {}
	}
	var mu sync.Mutex
	var bar *progressbar.ProgressBar
	shown := 0
	update = func(done, total int) {
		mu.Lock()
		defer mu.Unlock()
		if bar == nil {
			bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(stderr),
				progressbar.OptionSetDescription(what), progressbar.OptionShowCount(), progressbar.OptionThrottle(100e6))
		}
		if done > shown { // counts from several goroutines may arrive out of order
			shown = done
			_ = bar.Set(done)
		}
	}
	return update, func() {
		mu.Lock()
		defer mu.Unlock()
		if bar != nil {
			_ = bar.Finish()
			fmt.Fprintln(stderr)
		}
	}
}

// withProgressBar returns ctx with a progress report for the bulk
// operation run under it (shred.WithProgress), drawn as a bar named what
// on stderr when it is a terminal, and the function that ends the bar.
func withProgressBar(ctx context.Context, stderr io.Writer, what string) (context.Context, func()) {
	update, finish := progressUpdater(stderr, what)
	if update == nil {
		return ctx, finish
	}
	return shred.WithProgress(ctx, update), finish
}

// progressMin is the size from which protect and open draw a bar.
const progressMin = 64 << 20

// bytesProgress returns a progress callback that draws a byte-count bar
// on stderr for data of progressMin bytes or more (or of unknown size),
// only when stderr is a terminal.
func bytesProgress(stderr io.Writer, what string) (update func(done, total int64), finish func()) {
	if !isTerminal(stderr) {
		return nil, func() {}
	}
	var bar *progressbar.ProgressBar
	update = func(done, total int64) {
		if bar == nil {
			if total >= 0 && total < progressMin {
				return
			}
			bar = progressbar.NewOptions64(total, progressbar.OptionSetWriter(stderr), progressbar.OptionSetDescription(what),
				progressbar.OptionShowBytes(true), progressbar.OptionThrottle(100e6), progressbar.OptionSetPredictTime(total > 0))
		}
		_ = bar.Set64(done)
	}
	return update, func() {
		if bar != nil {
			_ = bar.Finish()
			fmt.Fprintln(stderr)
		}
	}
}

// confirm asks on stderr and reads the answer from stdin; the answer must
// be exactly want.
func confirm(stdin io.Reader, stderr io.Writer, prompt, want string) bool {
	fmt.Fprintf(stderr, "%s [type %q to confirm]: ", prompt, want)
	line, _ := bufio.NewReader(stdin).ReadString('\n')
	return strings.TrimSpace(line) == want
}
