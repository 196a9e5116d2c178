package attest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/json"
	"fmt"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/options"
)

// Sign validates stmt, encodes it once, signs those bytes with s and returns
// a DSSE envelope (JSON, with a trailing newline) of payloadType PayloadType.
// s must hold an ECDSA P-256 or Ed25519 key, such as one from LoadSigner.
// Before returning, Sign checks the new signature with s's public key, so a
// misconfigured signer cannot issue an attestation that will not verify.
func Sign(ctx context.Context, stmt *Statement, s signature.Signer) ([]byte, error) {
	if err := stmt.Validate(); err != nil {
		return nil, err
	}
	payload, err := json.Marshal(stmt)
	if err != nil {
		return nil, fmt.Errorf("failed to encode statement: %w", err)
	}
	if len(payload) > MaxStatementSize {
		return nil, fmt.Errorf("statement is %d bytes, more than an envelope may hold (%d): issue it in smaller parts", len(payload), MaxStatementSize)
	}
	sig, err := signPAE(ctx, s, payload)
	if err != nil {
		return nil, err
	}
	return marshalEnvelope(payload, sig)
}

func signPAE(ctx context.Context, s signature.Signer, payload []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	pae := dsse.PAE(PayloadType, payload)
	sig, err := s.SignMessage(bytes.NewReader(pae), options.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("failed to sign statement: %w", err)
	}
	if err := checkOwnSignature(ctx, s, pae, sig); err != nil {
		return nil, err
	}
	return sig, nil
}

func checkOwnSignature(ctx context.Context, s signature.Signer, pae, sig []byte) error {
	pub, err := s.PublicKey(options.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("failed to get the signer's public key: %w", err)
	}
	v, err := NewVerifier(pub)
	if err != nil {
		return err
	}
	if err := v.VerifySignature(bytes.NewReader(sig), bytes.NewReader(pae)); err != nil {
		return fmt.Errorf("the new signature does not verify with the signer's public key: %w", err)
	}
	return nil
}

// verifierFor returns the verifier cosign would use for pub: ECDSA P-256
// with SHA-256, or pure Ed25519.
func NewVerifier(pub crypto.PublicKey) (signature.Verifier, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("unsupported ECDSA curve %s: use P-256", k.Curve.Params().Name)
		}
		return signature.LoadECDSAVerifier(k, crypto.SHA256)
	case ed25519.PublicKey:
		return signature.LoadED25519Verifier(k)
	}
	return nil, fmt.Errorf("unsupported public key type %T: use ECDSA P-256 or Ed25519", pub)
}
