package shred_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cryptoshred/cryptoshred/shred"
)

// The text of a batch of 100,000 failures lists the first 20 and counts
// the rest, so it stays short and is built at once: before, each failure
// was appended to the whole text so far, which took minutes of CPU (and
// the CLI printed every line twice). The failures are all still in Failed.
func TestBatchErrorTextIsBounded(t *testing.T) {
	failed := make([]*shred.ItemError, 100_000)
	for i := range failed {
		failed[i] = &shred.ItemError{ID: fmt.Sprintf("bk-%026d", i), Err: errors.New("failed to record the intent: vault is sealed")}
	}
	text := (&shred.BatchError{Done: 3, Failed: failed}).Error()
	if len(text) > 4096 || !strings.HasPrefix(text, "3 done, 100000 failed\n  bk-") || !strings.HasSuffix(text, "\n  ... and 99980 more") {
		t.Fatalf("%d bytes: %.300s ... %s", len(text), text, text[max(0, len(text)-100):])
	}
	if lines := strings.Count(text, "\n"); lines != 21 {
		t.Fatalf("%d lines:\n%s", lines, text)
	}
}
