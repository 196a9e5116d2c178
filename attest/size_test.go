package attest

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// A statement that would make an envelope larger than Verify accepts is
// refused by Sign, so an issuer never signs evidence no one can verify;
// one of exactly MaxStatementSize bytes is signed, read and verified.
func TestSignIssuesOnlyWhatVerifyAccepts(t *testing.T) {
	s, v, _ := newFileSigner(t, ECDSAP256, nil)
	st := testStatement()
	encoded, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	st.Predicate.Case.Reference += strings.Repeat("x", MaxStatementSize-len(encoded))
	env, err := Sign(context.Background(), st, s)
	if err != nil {
		t.Fatalf("a statement of MaxStatementSize bytes: %v", err)
	}
	read, err := ReadEnvelope(bytes.NewReader(env))
	if err != nil {
		t.Fatalf("reading the envelope Sign issued (%d bytes): %v", len(env), err)
	}
	if _, err := Verify(context.Background(), read, v, VerifyOptions{SubjectDigest: hexSum(blobContent)}); err != nil {
		t.Fatalf("verifying the envelope Sign issued: %v", err)
	}
	st.Predicate.Case.Reference += "x"
	if _, err := Sign(context.Background(), st, s); err == nil || !strings.Contains(err.Error(), "more than an envelope may hold") {
		t.Fatalf("a statement one byte larger: %v", err)
	}
}
