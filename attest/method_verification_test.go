package attest

import (
	"context"
	"strings"
	"testing"
)

// TestVerifyRequiresCryptographicEraseShown: a signed statement whose
// method is not NIST SP 800-88 Purge by Cryptographic Erase, or whose
// verification does not say the key read back as not found with the
// Transit mount present, fails the predicate check naming the field:
// the signature alone does not make it say the key was destroyed.
func TestVerifyRequiresCryptographicEraseShown(t *testing.T) {
	s, v, _ := newFileSigner(t, ECDSAP256, nil)
	for _, c := range []struct {
		field  string
		mutate func(*Statement)
	}{
		{"predicate.method.standard", func(st *Statement) { st.Predicate.Method.Standard = "none" }},
		{"predicate.method.category", func(st *Statement) { st.Predicate.Method.Category = "Clear" }},
		{"predicate.method.technique", func(st *Statement) { st.Predicate.Method.Technique = "overwrite once" }},
		{"backups[1].verification.result", func(st *Statement) { st.Predicate.Backups[1].Verification.Result = "still present" }},
		{"backups[0].verification.mountPresent", func(st *Statement) { b0(st).Verification.MountPresent = false }},
	} {
		t.Run(c.field, func(t *testing.T) {
			st := testStatement()
			c.mutate(st)
			r, err := Verify(context.Background(), signRaw(t, s, PayloadType, mustJSON(t, st)), v, VerifyOptions{})
			wantFailure(t, r, err, CheckPredicate)
			if !strings.Contains(err.Error(), c.field) {
				t.Errorf("err = %v, want it to name %s", err, c.field)
			}
		})
	}
}
