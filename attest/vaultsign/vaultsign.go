// Package vaultsign loads attestation signers whose keys live in a Vault
// (or OpenBao) Transit mount: hashivault://NAME and openbao://NAME. It is
// kept apart from package attest so that verification, which an authority
// runs offline, never depends on the Vault client.
package vaultsign

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/vault/api"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/kms/hashivault"
	"github.com/sigstore/sigstore/pkg/signature/options"

	"github.com/cryptoshred/cryptoshred/attest"
)

// Option configures how Load reaches Vault. Unset values come
// from VAULT_ADDR (or BAO_ADDR), VAULT_TOKEN (or BAO_TOKEN) and
// TRANSIT_SECRET_ENGINE_PATH (default "transit").
type Option func(*signerConfig)

type signerConfig struct {
	address, token, transitMount string
}

// WithVaultAddress sets the Vault server address, e.g. https://vault:8200.
func WithVaultAddress(addr string) Option {
	return func(c *signerConfig) { c.address = addr }
}

// WithVaultToken sets the Vault token used to sign.
func WithVaultToken(token string) Option {
	return func(c *signerConfig) { c.token = token }
}

// WithTransitMount sets the path of the Transit mount holding the key.
func WithTransitMount(mount string) Option {
	return func(c *signerConfig) { c.transitMount = mount }
}

// IsReference reports whether ref names a key in Vault rather than a file.
func IsReference(ref string) bool {
	scheme, _, ok := strings.Cut(ref, "://")
	return ok && (scheme == "hashivault" || scheme == "openbao")
}

// Load returns the signer for ref, hashivault://NAME (openbao://NAME): an
// ecdsa-p256 or ed25519 key in a Vault Transit mount, configured by opts.
// It reads the public key, so it fails early if the key is missing or of
// an unsupported type.
func Load(ctx context.Context, ref string, opts ...Option) (signature.SignerVerifier, error) {
	if !IsReference(ref) {
		return nil, fmt.Errorf("unsupported key reference %q: use hashivault://NAME", ref)
	}
	cfg := &signerConfig{}
	for _, o := range opts {
		o(cfg)
	}
	return loadVaultSigner(ctx, ref, cfg)
}

func loadVaultSigner(ctx context.Context, ref string, cfg *signerConfig) (signature.SignerVerifier, error) {
	if err := hashivault.ValidReference(ref); err != nil {
		return nil, fmt.Errorf("invalid key reference %q: %w", ref, err)
	}
	sv, err := vaultSignerWithHash(ctx, ref, cfg, crypto.SHA256)
	if err != nil {
		return nil, err
	}
	pub, err := sv.PublicKey(options.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("failed to read the public key of %s (an ecdsa-p256 or ed25519 Transit key): %w", ref, vaultError(err))
	}
	if _, err := attest.NewVerifier(pub); err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	if _, ok := pub.(ed25519.PublicKey); ok {
		// Ed25519 signs the message itself, not a SHA-256 digest of it.
		return vaultSignerWithHash(ctx, ref, cfg, crypto.Hash(0))
	}
	return sv, nil
}

// vaultError shortens a Vault API error to its status and messages.
func vaultError(err error) error {
	var re *api.ResponseError
	if errors.As(err, &re) {
		return fmt.Errorf("vault answered %d: %s", re.StatusCode, flattenVaultErrors(re.Errors))
	}
	return err
}

// flattenVaultErrors joins Vault's messages, dropping multierror framing.
func flattenVaultErrors(msgs []string) string {
	var parts []string
	for _, m := range msgs {
		for _, line := range strings.Split(m, "\n") {
			line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "* "))
			if line != "" && !strings.HasSuffix(line, "occurred:") {
				parts = append(parts, line)
			}
		}
	}
	return strings.Join(parts, "; ")
}

func vaultSignerWithHash(ctx context.Context, ref string, cfg *signerConfig, h crypto.Hash) (signature.SignerVerifier, error) {
	auth := options.RPCAuth{Address: cfg.address, Token: cfg.token, Path: cfg.transitMount}
	sv, err := hashivault.LoadSignerVerifier(ref, h, options.WithRPCAuthOpts(auth), options.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("failed to load %s: %w", ref, err)
	}
	return sv, nil
}
