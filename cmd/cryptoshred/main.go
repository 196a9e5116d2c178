// Command cryptoshred keeps backups crypto-shreddable, holds them while a
// data protection authority investigates, and destroys their keys in Vault
// with a signed attestation when the case closes.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func main() { os.Exit(runMain()) }

// runMain runs this process's command line and returns its exit code.
func runMain() int {
	lessGCHeadroom()
	ctx, stop := interruptContext()
	defer stop()
	return run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
}

// lessGCHeadroom lets the heap grow to 1.5 times what is live between
// collections instead of Go's default of twice, unless GOGC says
// otherwise: a run or attestation of a large case keeps every backup's
// records live, so the default headroom was most of its peak RSS, while
// collecting costs it a few per cent of its processor time.
func lessGCHeadroom() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
}

// interruptContext returns a context that the first Ctrl-C or SIGTERM
// cancels, so the command stops cleanly and commits nothing. Their default
// handling is restored before the cancellation shows: a command that does
// not stop soon enough dies at a second Ctrl-C, as any other does.
func interruptContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case <-sig:
		case <-ctx.Done():
		}
		signal.Stop(sig)
		cancel()
	}()
	return ctx, cancel
}

// run executes the command line args and returns the process exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	app := newApp(stdin, stdout, stderr)
	err := app.RunContext(ctx, permuteArgs(app, args))
	return reportError(stderr, err)
}
