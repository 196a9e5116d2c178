package attest_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/attest/vaultsign"
	"github.com/cryptoshred/cryptoshred/internal/vaulttest"
	"github.com/hashicorp/vault/api"
	"github.com/sigstore/sigstore/pkg/signature"
)

const testTransit = "attest-transit"

// transitKey starts Vault with a Transit mount holding a key of type typ.
func transitKey(t *testing.T, name, typ string) (*vaulttest.Server, *api.Client) {
	t.Helper()
	s := vaulttest.Start(t)
	c := s.Root(t)
	if err := c.Sys().Mount(testTransit, &api.MountInput{Type: "transit"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Logical().Write(testTransit+"/keys/"+name, map[string]any{"type": typ}); err != nil {
		t.Fatal(err)
	}
	return s, c
}

// exportedPublicKey reads version 1 of a Transit key's public key as PEM.
func exportedPublicKey(t *testing.T, c *api.Client, name string) []byte {
	t.Helper()
	sec, err := c.Logical().Read(testTransit + "/keys/" + name)
	if err != nil {
		t.Fatal(err)
	}
	v1 := sec.Data["keys"].(map[string]any)["1"].(map[string]any)
	pub := v1["public_key"].(string)
	if v1["name"] != "ed25519" {
		return []byte(pub)
	}
	raw, err := base64.StdEncoding.DecodeString(pub)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, err := attest.MarshalPublicKey(ed25519.PublicKey(raw))
	if err != nil {
		t.Fatal(err)
	}
	return pemBytes
}

func TestVaultSigner(t *testing.T) {
	for _, typ := range []string{"ecdsa-p256", "ed25519"} {
		t.Run(typ, func(t *testing.T) {
			s, c := transitKey(t, "cryptoshred-attest", typ)
			pubPEM := exportedPublicKey(t, c, "cryptoshred-attest")
			signer, err := vaultsign.Load(context.Background(), "hashivault://cryptoshred-attest", vaultsign.WithVaultAddress(s.Addr), vaultsign.WithVaultToken(s.Token), vaultsign.WithTransitMount(testTransit))
			if err != nil {
				t.Fatal(err)
			}
			env := signFixture(t, signer)
			verifyOffline(t, env, pubPEM, signer)
		})
	}
}

// verifyOffline verifies env with the exported public key only, and checks
// that the signer reports that same key.
func verifyOffline(t *testing.T, env, pubPEM []byte, signer signature.SignerVerifier) {
	t.Helper()
	v, err := attest.LoadVerifier(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	r, err := attest.Verify(context.Background(), env, v, attest.VerifyOptions{SubjectDigest: attest.FixtureBlobDigest})
	if err != nil {
		t.Fatalf("offline verification: %v", err)
	}
	pub, _ := signer.PublicKey()
	if fp, _ := attest.Fingerprint(pub); fp != r.KeyFingerprint {
		t.Errorf("signer key %s, verified with %s", fp, r.KeyFingerprint)
	}
}

func TestVaultSignerFromEnvironment(t *testing.T) {
	s, c := transitKey(t, "env-key", "ecdsa-p256")
	pubPEM := exportedPublicKey(t, c, "env-key")
	t.Setenv("VAULT_ADDR", s.Addr)
	t.Setenv("VAULT_TOKEN", s.Token)
	t.Setenv("TRANSIT_SECRET_ENGINE_PATH", testTransit)
	signer, err := vaultsign.Load(context.Background(), "hashivault://env-key")
	if err != nil {
		t.Fatal(err)
	}
	verifyOffline(t, signFixture(t, signer), pubPEM, signer)
}

func TestVaultSignerErrors(t *testing.T) {
	s, _ := transitKey(t, "aes-key", "aes256-gcm96")
	reader := s.TokenWithPolicies(t, "no-transit", "default")
	for name, tc := range map[string]struct{ ref, token string }{
		"missing key":    {"hashivault://no-such-key", s.Token},
		"not a sign key": {"hashivault://aes-key", s.Token},
		"denied":         {"hashivault://aes-key", reader},
	} {
		_, err := vaultsign.Load(context.Background(), tc.ref, vaultsign.WithVaultAddress(s.Addr), vaultsign.WithVaultToken(tc.token), vaultsign.WithTransitMount(testTransit))
		if err == nil {
			t.Errorf("%s: vaultsign.Load succeeded", name)
			continue
		}
		if strings.Contains(err.Error(), tc.token) {
			t.Errorf("%s: error leaks the token: %v", name, err)
		}
		t.Logf("%s: %v", name, err)
	}
	_, err := vaultsign.Load(context.Background(), "hashivault://aes-key", vaultsign.WithVaultAddress(s.Addr),
		vaultsign.WithVaultToken(s.Token), vaultsign.WithTransitMount("no-such-mount"))
	if err == nil {
		t.Error("missing mount: vaultsign.Load succeeded")
	}
}

func signFixture(t *testing.T, s signature.Signer) []byte {
	t.Helper()
	env, err := attest.Sign(context.Background(), attest.FixtureStatement(), s)
	if err != nil {
		t.Fatal(err)
	}
	return env
}
