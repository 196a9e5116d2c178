package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/cryptoshred/cryptoshred/internal/ctxio"
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
	return countBar(stderr, what, barInterval)
}

// barInterval is how often a count bar is redrawn.
const barInterval = 100 * time.Millisecond

// countBar returns a progress callback that only records the count, and
// draws a bar of it on w every interval from a goroutine of its own: a
// terminal stopped with Ctrl-S blocks that goroutine's writes, never the
// workers that report. finish draws the last count and ends the bar.
func countBar(w io.Writer, what string, interval time.Duration) (update func(done, total int), finish func()) {
	var done atomic.Int64
	var start sync.Once
	stop, stopped := make(chan struct{}), make(chan struct{})
	var bar *progressbar.ProgressBar
	draw := func() { _ = bar.Set64(done.Load()) }
	update = func(n, of int) {
		storeMax(&done, int64(n)) // counts from several goroutines may arrive out of order
		start.Do(func() {
			bar = progressbar.NewOptions64(int64(of), progressbar.OptionSetWriter(w),
				progressbar.OptionSetDescription(what), progressbar.OptionShowCount())
			go redraw(interval, draw, stop, stopped)
		})
	}
	return update, func() {
		start.Do(func() { close(stopped) }) // never started: nothing to draw
		if bar == nil {
			return
		}
		close(stop)
		<-stopped
		draw()
		_ = bar.Finish()
		fmt.Fprintln(w)
	}
}

// redraw calls draw every interval until stop is closed, then closes
// stopped.
func redraw(interval time.Duration, draw func(), stop <-chan struct{}, stopped chan<- struct{}) {
	defer close(stopped)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			draw()
		}
	}
}

// storeMax sets v to n if n is larger.
func storeMax(v *atomic.Int64, n int64) {
	for old := v.Load(); n > old && !v.CompareAndSwap(old, n); old = v.Load() {
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
// be exactly want. Ctrl-C at the prompt is no: confirm returns false once
// ctx is done, rather than wait for Enter.
func confirm(ctx context.Context, stdin io.Reader, stderr io.Writer, prompt, want string) bool {
	fmt.Fprintf(stderr, "%s [type %q to confirm]: ", prompt, want)
	line, _ := readUnlessDone(ctx, func() ([]byte, error) { return bufio.NewReader(stdin).ReadBytes('\n') })
	if ctx.Err() != nil {
		fmt.Fprintln(stderr) // end the prompt's line before the error
		return false
	}
	return strings.TrimSpace(string(line)) == want
}

// readUnlessDone returns what read returns, or ctxio.Interrupted(ctx) as
// soon as ctx is done: a read of a terminal cannot be cancelled, and
// Ctrl-C at a prompt must not wait for Enter. read is left blocked in its
// goroutine; the process exits soon after.
func readUnlessDone(ctx context.Context, read func() ([]byte, error)) ([]byte, error) {
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := read()
		done <- result{b, err}
	}()
	select {
	case r := <-done:
		return r.b, r.err
	case <-ctx.Done():
		return nil, ctxio.Interrupted(ctx)
	}
}
