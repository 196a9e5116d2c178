package ctxio_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/cryptoshred/cryptoshred/internal/ctxio"
)

// A read after the context is done fails with the context's error, marked
// as an interruption, and reads nothing more from the stream.
func TestReaderStopsOnceCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	src := strings.NewReader("0123456789")
	r := ctxio.Reader(ctx, src)
	buf := make([]byte, 4)
	if n, err := r.Read(buf); n != 4 || err != nil {
		t.Fatalf("read before cancel: %d %v", n, err)
	}
	cancel()
	n, err := r.Read(buf)
	if n != 0 || !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "interrupted: ") {
		t.Fatalf("read after cancel: %d %v", n, err)
	}
	if src.Len() != 6 {
		t.Fatalf("the stream was read after cancel: %d bytes left, want 6", src.Len())
	}
	if _, err := io.ReadAll(r); !errors.Is(err, context.Canceled) {
		t.Fatalf("ReadAll after cancel: %v", err)
	}
}
