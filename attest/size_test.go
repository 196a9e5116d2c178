package attest

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/cryptoshred/cryptoshred/attest/tsa"
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
	largestBundleIsRead(t, env, s)
}

// largestBundleIsRead checks that env, the largest envelope Sign issues,
// with as many timestamps as a bundle takes, each as large as a
// timestamping client reads, makes a bundle ReadEnvelope reads.
func largestBundleIsRead(t *testing.T, env []byte, s signature.Signer) {
	t.Helper()
	pub, err := s.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	timestamps := make([][]byte, maxTimestamps)
	for i := range timestamps {
		timestamps[i] = bytes.Repeat([]byte{0xff}, tsa.MaxResponseSize)
	}
	b, err := NewBundle(env, pub, timestamps)
	if err != nil {
		t.Fatalf("bundle of the largest envelope and %d timestamps of %d bytes: %v", maxTimestamps, tsa.MaxResponseSize, err)
	}
	if _, err := ReadEnvelope(bytes.NewReader(b)); err != nil {
		t.Fatalf("reading that bundle (%d bytes): %v", len(b), err)
	}
}
