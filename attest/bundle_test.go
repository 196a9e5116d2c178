package attest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"

	"github.com/cryptoshred/cryptoshred/attest/tsa"
)

func TestBundleVerifiesLikeItsEnvelope(t *testing.T) {
	s, _, pubPath := newFileSigner(t, ECDSAP256, nil)
	env := signTest(t, s)
	pub, _ := s.PublicKey()
	b, err := NewBundle(env, pub, nil)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM, _ := os.ReadFile(pubPath)
	v, err := LoadVerifier(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(context.Background(), b, v, VerifyOptions{})
	if err != nil || rep.Checks[0].Name != CheckBundle {
		t.Fatalf("Verify(bundle): %v %+v", err, rep)
	}
	if st, err := ParseUnverified(b); err != nil || st.Predicate.AttestationID == "" {
		t.Errorf("ParseUnverified(bundle): %v", err)
	}
	auth := []tsa.Authority{{Name: "x"}}
	for name, data := range map[string][]byte{
		"bare envelope with an authority":  env,
		"bundle without timestamps":        b,
		"transparency-log entry":           bytes.Replace(b, []byte(`"verificationMaterial":{`), []byte(`"verificationMaterial":{"tlogEntries":[{}],`), 1),
		"other media type":                 bytes.Replace(b, []byte("v0.3"), []byte("v0.2"), 1),
		"unknown field":                    bytes.Replace(b, []byte(`"mediaType"`), []byte(`"extra":1,"mediaType"`), 1),
		"tampered payload inside a bundle": mustBundle(t, tamper(t, env), pub),
	} {
		if _, err := Verify(context.Background(), data, v, VerifyOptions{Authorities: auth}); !errors.Is(err, ErrVerification) {
			t.Errorf("%s: err = %v, want ErrVerification", name, err)
		}
	}
}

func mustBundle(t *testing.T, env []byte, pub any) []byte {
	t.Helper()
	b, err := NewBundle(env, pub, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
