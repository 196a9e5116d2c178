package shred_test

import (
	"context"
	"testing"
	"time"

	"github.com/cryptoshred/cryptoshred/internal/vaulttest"
	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/storage/local"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// newVault starts a dev server, runs Init with the root token and returns
// the server and a root-token Vault.
func newVault(t *testing.T) (*vaulttest.Server, *shred.Service) {
	t.Helper()
	srv := vaulttest.Start(t)
	v := vault.New(srv.Root(t), vault.DefaultMounts)
	if _, err := v.Init(context.Background()); err != nil {
		t.Fatalf("init: %v", err)
	}
	return srv, newService(v)
}

// roleVault returns a Vault using a fresh token with only policy.
func roleVault(t testing.TB, srv *vaulttest.Server, policy string) *shred.Service {
	t.Helper()
	return newService(vault.New(srv.Client(t, srv.TokenWithPolicies(t, policy, policy)), vault.DefaultMounts))
}

// newService returns the service over v, with ciphertexts in local files.
func newService(v *vault.Client) *shred.Service {
	return shred.New(shred.Config{Records: v, Keys: v, Guard: v, Signer: v, Storage: local.New()})
}

// rootKeys returns the root token's Vault client, to wrap file keys with
// in tests whose subject is not who may wrap them.
func rootKeys(t *testing.T, srv *vaulttest.Server) *vault.Client {
	return vault.New(srv.Root(t), vault.DefaultMounts)
}

// runOpts are the options of an ordinary run: a test signer and a
// declared snapshot retention, so the run can attest what it destroys.
func runOpts(t testing.TB) shred.RunOptions { return withAttest(t, shred.RunOptions{}) }

func withAttest(t testing.TB, opts shred.RunOptions) shred.RunOptions {
	opts.Attest = shred.AttestOptions{Signer: testSigner(t), SnapshotRetention: time.Hour, ToolVersion: "test"}
	return opts
}
