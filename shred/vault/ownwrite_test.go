package vault

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/cryptoshred/cryptoshred/shred/errs"
)

// A record read back counts as the write sent only if it encodes to the
// same JSON once numbers are read as Vault returns them.
func TestSameJSON(t *testing.T) {
	sent := map[string]any{"case": "C", "n": 3, "at": "2026-11-30T09:00:00.000001Z"}
	for _, tc := range []struct {
		stored map[string]any
		same   bool
	}{
		{map[string]any{"case": "C", "n": 3.0, "at": "2026-11-30T09:00:00.000001Z"}, true},
		{map[string]any{"at": "2026-11-30T09:00:00.000001Z", "n": 3, "case": "C"}, true},
		{map[string]any{"case": "C", "n": 3, "at": "2026-11-30T09:00:00.000002Z"}, false},
		{map[string]any{"case": "C", "n": 3}, false},
		{map[string]any{"case": "C", "n": 3, "at": "2026-11-30T09:00:00.000001Z", "by": "someone"}, false},
	} {
		if got := sameJSON(tc.stored, sent); got != tc.same {
			t.Errorf("sameJSON(%v, %v) = %v", tc.stored, sent, got)
		}
	}
}

// A decrypt Vault refused with a 429 past every retry was not carried out:
// its error does not say the unwrap may have happened.
func TestRateLimitedUnwrapIsNotSaidToMayHaveHappened(t *testing.T) {
	limited := &api.ResponseError{StatusCode: http.StatusTooManyRequests, Errors: []string{"rate limit quota exceeded"}}
	err := unwrapError(limited, vaultError("decrypt with key", "bk-1", limited))
	if !errors.Is(err, errs.ErrUnavailable) || strings.Contains(err.Error(), "may have carried it out") {
		t.Fatalf("unwrap error after a 429: %v", err)
	}
	lost := &api.ResponseError{StatusCode: http.StatusBadGateway}
	if err := unwrapError(lost, vaultError("decrypt with key", "bk-1", lost)); !strings.Contains(err.Error(), "may have carried it out") {
		t.Fatalf("unwrap error after a 502: %v", err)
	}
}
