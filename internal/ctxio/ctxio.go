// Package ctxio stops streams when their context is done. Files, pipes
// and stdin never look at a context, so a command streaming one would
// otherwise run to the end after Ctrl-C or SIGTERM and commit its output.
package ctxio

import (
	"context"
	"fmt"
	"io"
)

// Interrupted returns nil while ctx is live and, once it is done, ctx's
// error marked as an interruption. Callers check it right before they
// commit an output, so that nothing appears under a final name after the
// command was stopped.
func Interrupted(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("interrupted: %w", err)
	}
	return nil
}

// Reader returns r, whose reads fail with Interrupted(ctx) once ctx is
// done: a stream stops at the next read after Ctrl-C, rather than at its
// end.
func Reader(ctx context.Context, r io.Reader) io.Reader { return &reader{ctx: ctx, r: r} }

// ReadCloser is Reader for rc, whose Close it keeps.
func ReadCloser(ctx context.Context, rc io.ReadCloser) io.ReadCloser {
	return struct {
		io.Reader
		io.Closer
	}{Reader(ctx, rc), rc}
}

type reader struct {
	ctx context.Context
	r   io.Reader
}

func (r *reader) Read(p []byte) (int, error) {
	if err := Interrupted(r.ctx); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}
