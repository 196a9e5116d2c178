package attest

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/sigstore/sigstore/pkg/signature"
)

var allChecks = []string{
	CheckEnvelope, CheckPayloadType, CheckSignatures, CheckSignature, CheckStatement,
	CheckStatementType, CheckPredicateType, CheckPredicate, CheckSubjectDigest,
}

func TestSignVerifyRoundTrip(t *testing.T) {
	for _, alg := range []Algorithm{ECDSAP256, Ed25519} {
		for _, pw := range [][]byte{nil, []byte("correct horse battery staple")} {
			t.Run(fmt.Sprintf("%s/encrypted=%v", alg, pw != nil), func(t *testing.T) {
				s, v, _ := newFileSigner(t, alg, pw)
				env := signTest(t, s)
				r, err := Verify(context.Background(), env, v, VerifyOptions{SubjectDigest: hexSum(blobContent)})
				if err != nil {
					t.Fatalf("Verify: %v\n%+v", err, r)
				}
				checkReportOK(t, r, allChecks)
				if !reflect.DeepEqual(r.Statement, testStatement()) {
					t.Errorf("verified statement differs from the signed one:\n%+v", r.Statement)
				}
			})
		}
	}
}

func checkReportOK(t *testing.T, r *Report, names []string) {
	t.Helper()
	if !r.OK() || len(r.Checks) != len(names) {
		t.Fatalf("report: %+v", r)
	}
	for i, c := range r.Checks {
		if c.Name != names[i] || !c.Passed || c.Detail == "" {
			t.Errorf("check %d = %+v, want %s passed with a detail", i, c, names[i])
		}
	}
	if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "bk-01HF3Z8Q4M2N6P8R0T2V4X6Z8C") {
		t.Errorf("warnings = %q, want one for the backup with an unknown original", r.Warnings)
	}
	if !strings.HasPrefix(r.KeyFingerprint, "SHA256:") {
		t.Errorf("KeyFingerprint = %q", r.KeyFingerprint)
	}
}

func TestVerifySubjectDigest(t *testing.T) {
	s, v, _ := newFileSigner(t, ECDSAP256, nil)
	env := signTest(t, s)
	for _, d := range []string{hexSum(blobContent), "sha256:" + strings.ToUpper(hexSum(blobContent))} {
		if _, err := Verify(context.Background(), env, v, VerifyOptions{SubjectDigest: d}); err != nil {
			t.Errorf("digest %s: %v", d, err)
		}
	}
	r, err := Verify(context.Background(), env, v, VerifyOptions{SubjectDigest: hexSum("another file")})
	wantFailure(t, r, err, CheckSubjectDigest)
	if _, err := Verify(context.Background(), env, v, VerifyOptions{SubjectDigest: "abc"}); err == nil || errors.Is(err, ErrVerification) {
		t.Errorf("invalid digest option: err = %v, want a usage error", err)
	}
}

// wantFailure checks that err is a VerificationError for check, and that
// the report ends with that failed check after passed ones.
func wantFailure(t *testing.T, r *Report, err error, check string) {
	t.Helper()
	var ve *VerificationError
	if !errors.Is(err, ErrVerification) || !errors.As(err, &ve) || ve.Check != check {
		t.Fatalf("err = %v, want a verification failure of %s", err, check)
	}
	last := r.Checks[len(r.Checks)-1]
	if last.Name != check || last.Passed || r.OK() || r.Statement != nil {
		t.Fatalf("report = %+v, want it to end with failed %s", r, check)
	}
	for _, c := range r.Checks[:len(r.Checks)-1] {
		if !c.Passed {
			t.Fatalf("check %s failed before %s", c.Name, check)
		}
	}
}

func decodeEnv(t testing.TB, b []byte) envelope {
	t.Helper()
	var e envelope
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

func encodeEnv(t testing.TB, e envelope) []byte {
	t.Helper()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVerifyFlippedBytes(t *testing.T) {
	for _, alg := range []Algorithm{ECDSAP256, Ed25519} {
		t.Run(string(alg), func(t *testing.T) {
			s, v, _ := newFileSigner(t, alg, nil)
			e := decodeEnv(t, signTest(t, s))
			payload, _ := base64.StdEncoding.DecodeString(e.Payload)
			sig, _ := base64.StdEncoding.DecodeString(e.Signatures[0].Sig)
			for i := range payload {
				bad := flip(payload, i)
				e2 := e
				e2.Payload = base64.StdEncoding.EncodeToString(bad)
				r, err := Verify(context.Background(), encodeEnv(t, e2), v, VerifyOptions{})
				wantFailure(t, r, err, CheckSignature)
			}
			for i := range sig {
				e2 := e
				e2.Signatures = []envelopeSignature{{Sig: base64.StdEncoding.EncodeToString(flip(sig, i))}}
				r, err := Verify(context.Background(), encodeEnv(t, e2), v, VerifyOptions{})
				wantFailure(t, r, err, CheckSignature)
			}
			for i := range e.PayloadType {
				e2 := e
				e2.PayloadType = string(flip([]byte(e.PayloadType), i))
				r, err := Verify(context.Background(), encodeEnv(t, e2), v, VerifyOptions{})
				wantFailure(t, r, err, CheckPayloadType)
			}
		})
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x01
	return c
}

func TestVerifyWrongKey(t *testing.T) {
	s, _, _ := newFileSigner(t, ECDSAP256, nil)
	env := signTest(t, s)
	for _, alg := range []Algorithm{ECDSAP256, Ed25519} {
		_, other, _ := newFileSigner(t, alg, nil)
		r, err := Verify(context.Background(), env, other, VerifyOptions{})
		wantFailure(t, r, err, CheckSignature)
	}
}

func TestVerifySignatureList(t *testing.T) {
	s, v, _ := newFileSigner(t, Ed25519, nil)
	other, _, _ := newFileSigner(t, Ed25519, nil)
	e := decodeEnv(t, signTest(t, s))
	good := e.Signatures[0]
	foreign := decodeEnv(t, signTest(t, other)).Signatures[0]
	for name, sigs := range map[string][]envelopeSignature{
		"none":       nil,
		"empty list": {},
		"empty sig":  {{Sig: ""}, good},
		"bad base64": {{Sig: "!!!"}, good},
		"duplicate":  {good, good},
		"too many":   slicesRepeat(foreign, good, maxSignatures),
	} {
		e2 := e
		e2.Signatures = sigs
		r, err := Verify(context.Background(), encodeEnv(t, e2), v, VerifyOptions{})
		t.Run(name, func(t *testing.T) { wantFailure(t, r, err, CheckSignatures) })
	}
	e.Signatures = []envelopeSignature{foreign, good}
	if _, err := Verify(context.Background(), encodeEnv(t, e), v, VerifyOptions{}); err != nil {
		t.Errorf("a valid signature after a foreign one: %v", err)
	}
	e.Signatures = []envelopeSignature{foreign}
	r, err := Verify(context.Background(), encodeEnv(t, e), v, VerifyOptions{})
	wantFailure(t, r, err, CheckSignature)
}

// slicesRepeat returns n distinct-looking copies of a signature plus good.
func slicesRepeat(a, good envelopeSignature, n int) []envelopeSignature {
	out := []envelopeSignature{good}
	raw, _ := base64.StdEncoding.DecodeString(a.Sig)
	for i := range n {
		out = append(out, envelopeSignature{Sig: base64.StdEncoding.EncodeToString(append(bytes.Clone(raw), byte(i)))})
	}
	return out
}

func TestVerifyEnvelopeShape(t *testing.T) {
	s, v, _ := newFileSigner(t, ECDSAP256, nil)
	env := signTest(t, s)
	e := decodeEnv(t, env)
	huge := append([]byte(`{"payloadType":"`+PayloadType+`","payload":"`), bytes.Repeat([]byte("A"), MaxEnvelopeSize)...)
	for name, raw := range map[string][]byte{
		"empty":          nil,
		"not json":       []byte("hello"),
		"trailing data":  append(bytes.Clone(env), []byte(`{}`)...),
		"unknown field":  bytes.Replace(env, []byte(`{"payloadType"`), []byte(`{"extra":1,"payloadType"`), 1),
		"duplicate key":  bytes.Replace(env, []byte(`{"payloadType"`), []byte(`{"payload":"e30=","payloadType"`), 1),
		"case duplicate": bytes.Replace(env, []byte(`{"payloadType"`), []byte(`{"PAYLOADTYPE":"x","payloadType"`), 1),
		"line break":     bytes.Replace(env, []byte(`"payload":"ey`), []byte(`"payload":"e\ny`), 1),
		"empty payload":  encodeEnv(t, envelope{PayloadType: PayloadType, Signatures: e.Signatures}),
		"too large":      huge,
		"too deep":       []byte(strings.Repeat("[", 100) + strings.Repeat("]", 100)),
	} {
		r, err := Verify(context.Background(), raw, v, VerifyOptions{})
		t.Run(name, func(t *testing.T) { wantFailure(t, r, err, CheckEnvelope) })
	}
	if _, err := ReadEnvelope(bytes.NewReader(huge)); !errors.Is(err, ErrVerification) {
		t.Errorf("ReadEnvelope of %d bytes: err = %v", len(huge), err)
	}
	if b, err := ReadEnvelope(bytes.NewReader(env)); err != nil || !bytes.Equal(b, env) {
		t.Errorf("ReadEnvelope: %v", err)
	}
}

// signRaw signs payload under payloadType as Sign would, without validating.
func signRaw(t *testing.T, s signature.Signer, payloadType string, payload []byte) []byte {
	t.Helper()
	sig, err := s.SignMessage(bytes.NewReader(dsse.PAE(payloadType, payload)))
	if err != nil {
		t.Fatal(err)
	}
	return encodeEnv(t, envelope{
		PayloadType: payloadType,
		Payload:     base64.StdEncoding.EncodeToString(payload),
		Signatures:  []envelopeSignature{{Sig: base64.StdEncoding.EncodeToString(sig)}},
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVerifySignedButWrong(t *testing.T) {
	s, v, _ := newFileSigner(t, ECDSAP256, nil)
	good := mustJSON(t, testStatement())
	wrongType, wrongPred, invalid := testStatement(), testStatement(), testStatement()
	wrongType.Type = "https://in-toto.io/Statement/v0.1"
	wrongPred.PredicateType = "https://slsa.dev/provenance/v1"
	invalid.Predicate.Backups[0].Key.VersionsDestroyed = nil
	cases := []struct {
		name, payloadType string
		payload           []byte
		check             string
	}{
		{"payload type", "application/json", good, CheckPayloadType},
		{"not json", PayloadType, []byte("not json"), CheckStatement},
		{"duplicate key", PayloadType, bytes.Replace(good, []byte(`{"_type"`), []byte(`{"_type":"x","_type"`), 1), CheckStatement},
		{"unknown field", PayloadType, bytes.Replace(good, []byte(`{"_type"`), []byte(`{"x":1,"_type"`), 1), CheckStatement},
		{"_type", PayloadType, mustJSON(t, wrongType), CheckStatementType},
		{"predicateType", PayloadType, mustJSON(t, wrongPred), CheckPredicateType},
		{"schema", PayloadType, mustJSON(t, invalid), CheckPredicate},
		{"unknown predicate field", PayloadType, bytes.Replace(good, []byte(`"predicate":{`), []byte(`"predicate":{"x":1,`), 1), CheckPredicate},
	}
	for _, c := range cases {
		r, err := Verify(context.Background(), signRaw(t, s, c.payloadType, c.payload), v, VerifyOptions{})
		t.Run(c.name, func(t *testing.T) { wantFailure(t, r, err, c.check) })
	}
}

func TestSignRefusesInvalidStatement(t *testing.T) {
	s, _, _ := newFileSigner(t, ECDSAP256, nil)
	st := testStatement()
	st.Subject = nil
	if _, err := Sign(context.Background(), st, s); !errors.Is(err, ErrInvalidStatement) {
		t.Errorf("err = %v, want ErrInvalidStatement", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Sign(ctx, testStatement(), s); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: err = %v", err)
	}
}

// mismatchedSigner signs with one key but reports another's public key.
type mismatchedSigner struct {
	signature.Signer
	pub signature.SignerVerifier
}

func (m mismatchedSigner) PublicKey(opts ...signature.PublicKeyOption) (crypto.PublicKey, error) {
	return m.pub.PublicKey(opts...)
}

func TestSignChecksOwnSignature(t *testing.T) {
	a, _, _ := newFileSigner(t, ECDSAP256, nil)
	b, _, _ := newFileSigner(t, ECDSAP256, nil)
	_, err := Sign(context.Background(), testStatement(), mismatchedSigner{Signer: a, pub: b})
	if err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Errorf("err = %v, want the self-check to fail", err)
	}
}

func TestParseUnverified(t *testing.T) {
	s, _, _ := newFileSigner(t, ECDSAP256, nil)
	e := decodeEnv(t, signTest(t, s))
	e.Signatures = []envelopeSignature{{Sig: base64.StdEncoding.EncodeToString([]byte("not a signature"))}}
	st, err := ParseUnverified(encodeEnv(t, e))
	if err != nil || !reflect.DeepEqual(st, testStatement()) {
		t.Fatalf("ParseUnverified: %v", err)
	}
	bad := testStatement()
	bad.PredicateType = "https://example.com/other"
	if _, err := ParseUnverified(signRaw(t, s, PayloadType, mustJSON(t, bad))); !errors.Is(err, ErrVerification) {
		t.Errorf("other predicate type: err = %v", err)
	}
}
