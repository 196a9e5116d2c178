package tsa_test

import (
	"context"
	"encoding/pem"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cryptoshred/cryptoshred/attest/tsa"
	"github.com/cryptoshred/cryptoshred/internal/tsatest"
)

// TestTimestampVerifies requests a timestamp from a real timestamp-server
// and verifies it with the served chain and with a trusted_root.json; a
// timestamp over other bytes, a tampered response and another authority's
// chain fail.
func TestTimestampVerifies(t *testing.T) {
	srv := tsatest.Start(t)
	c, err := tsa.NewClient(srv.URL, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	sig := []byte("signature bytes")
	before := time.Now().Add(-time.Second)
	resp, err := c.Timestamp(context.Background(), sig)
	if err != nil {
		t.Fatalf("Timestamp: %v", err)
	}
	auth, err := tsa.ParseChainPEM(srv.ChainPEM)
	if err != nil {
		t.Fatal(err)
	}
	v, err := tsa.Verify(resp, sig, []tsa.Authority{auth})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if v.Time.Before(before.Truncate(time.Second)) || v.Time.After(time.Now().Add(time.Second)) || !strings.Contains(v.Authority, "Timestamping") {
		t.Errorf("verified %+v, want a time around now from the test TSA", v)
	}
	root, _ := os.ReadFile(srv.WriteTrustedRoot(t, t.TempDir()))
	auths, err := tsa.ParseTrustedRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tsa.Verify(resp, sig, auths); err != nil {
		t.Errorf("Verify with trusted root: %v", err)
	}
	if _, err := tsa.Verify(resp, []byte("other bytes"), []tsa.Authority{auth}); err == nil || !strings.Contains(err.Error(), "other bytes") {
		t.Errorf("timestamp over other bytes: %v", err)
	}
	if _, err := tsa.Verify(tamperTime(t, resp), sig, []tsa.Authority{auth}); err == nil {
		t.Error("tampered timestamp verified")
	}
	if _, err := tsa.Verify(resp, sig, []tsa.Authority{otherAuthority(t)}); err == nil {
		t.Error("timestamp verified with another authority's chain")
	}
	auth.ValidFrom = time.Now().Add(time.Hour)
	if _, err := tsa.Verify(resp, sig, []tsa.Authority{auth}); err == nil {
		t.Error("timestamp verified before its authority's validity period")
	}
}

// tamperTime changes one digit of the GeneralizedTime in the signed
// TSTInfo, leaving the signature as it was.
func tamperTime(t *testing.T, resp []byte) []byte {
	t.Helper()
	year := []byte(time.Now().UTC().Format("2006"))
	i := strings.Index(string(resp), string(year))
	if i < 0 {
		t.Fatal("no time in the response")
	}
	out := append([]byte(nil), resp...)
	out[i+3] ^= 1
	return out
}

// otherAuthority is a real chain of another authority: a root and a
// timestamping leaf made here.
func otherAuthority(t *testing.T) tsa.Authority {
	t.Helper()
	a, err := tsa.ParseChainPEM(tsatest.SelfSignedChainPEM(t, "Other TSA"))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestClientRefusesWhatIsNoTimestamp: a stopped authority, an endpoint that
// answers something else, and a bad URL fail with ErrAuthority.
func TestClientRefusesWhatIsNoTimestamp(t *testing.T) {
	srv := tsatest.Start(t)
	for _, u := range []string{srv.Base() + "/api/v1/timestamp/certchain", srv.Base() + "/nothing-here"} {
		c, _ := tsa.NewClient(u, 5*time.Second)
		if _, err := c.Timestamp(context.Background(), []byte("x")); !errors.Is(err, tsa.ErrAuthority) {
			t.Errorf("%s: err = %v, want ErrAuthority", u, err)
		}
	}
	srv.Stop()
	c, _ := tsa.NewClient(srv.URL, 5*time.Second)
	if _, err := c.Timestamp(context.Background(), []byte("x")); !errors.Is(err, tsa.ErrAuthority) {
		t.Errorf("stopped authority: err = %v", err)
	}
	if _, err := tsa.NewClient("ftp://tsa", 0); err == nil {
		t.Error("ftp URL accepted")
	}
}

func TestParseChainPEMRejects(t *testing.T) {
	for name, data := range map[string][]byte{
		"empty":   nil,
		"key":     pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1}}),
		"garbage": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2}}),
	} {
		if _, err := tsa.ParseChainPEM(data); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := tsa.ParseTrustedRoot([]byte(`{"mediaType":"application/json"}`)); err == nil {
		t.Error("not a trusted root: accepted")
	}
}
