package vault

import "testing"

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
