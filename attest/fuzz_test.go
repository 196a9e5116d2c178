package attest

import (
	"context"
	"errors"
	"io"
	"testing"
)

// FuzzVerify checks that Verify never panics, that every failure is a
// VerificationError named by the last, failed check of the report, and that
// whatever passes is a valid statement.
func FuzzVerify(f *testing.F) {
	f.Add(readTestdata(f, "vector-ecdsa-p256.intoto.json"))
	v := vectorVerifier(f, ECDSAP256)
	f.Fuzz(func(t *testing.T, env []byte) {
		r, err := Verify(context.Background(), env, v, VerifyOptions{SubjectDigest: hexSum(blobContent)})
		if err != nil {
			var ve *VerificationError
			if !errors.As(err, &ve) || r == nil || r.OK() {
				t.Fatalf("err = %v, report = %+v", err, r)
			}
			if last := r.Checks[len(r.Checks)-1]; last.Name != ve.Check || last.Passed {
				t.Fatalf("error names %s, report ends with %+v", ve.Check, last)
			}
			return
		}
		if !r.OK() || len(r.Checks) != len(allChecks) || r.Statement.Validate() != nil {
			t.Fatalf("accepted %q with report %+v", env, r)
		}
	})
}

// FuzzStatement feeds arbitrary signed payloads to the statement checks,
// and whatever decodes to the certificate renderers; none may panic.
func FuzzStatement(f *testing.F) {
	f.Add(readTestdata(f, "statement.json"))
	f.Fuzz(func(t *testing.T, payload []byte) {
		run := &verifyRun{ctx: context.Background(), payload: payload, report: &Report{}}
		for _, step := range []func() error{run.parseStatement, run.checkStatementType, run.checkPredicateType, run.checkPredicate} {
			if step() != nil {
				break
			}
		}
		var st Statement
		if decodeStrict(payload, &st) != nil {
			return
		}
		_ = st.Validate()
		if err := RenderText(io.Discard, &st, "SHA256:x"); err != nil {
			t.Fatal(err)
		}
		if err := RenderHTML(io.Discard, &st, ""); err != nil {
			t.Fatal(err)
		}
	})
}
