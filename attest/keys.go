package attest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
)

// Algorithm is a signing key algorithm.
type Algorithm string

// The supported signing key algorithms. Both verify with cosign.
const (
	ECDSAP256 Algorithm = "ecdsa-p256"
	Ed25519   Algorithm = "ed25519"
)

// maxKeyFileSize bounds the PEM files LoadSigner and LoadVerifier read.
const maxKeyFileSize = 64 << 10

// GenerateKey returns a new private key for alg; the empty Algorithm means
// ECDSAP256.
func GenerateKey(alg Algorithm) (crypto.Signer, error) {
	switch alg {
	case ECDSAP256, "":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case Ed25519:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
	return nil, fmt.Errorf("unsupported key algorithm %q: use %s or %s", alg, ECDSAP256, Ed25519)
}

// MarshalPrivateKey encodes key as PEM: PKCS #8 "PRIVATE KEY" when password
// is empty, else "ENCRYPTED SIGSTORE PRIVATE KEY" (scrypt and NaCl secretbox,
// the format cosign reads). The caller must keep the result secret.
func MarshalPrivateKey(key crypto.Signer, password []byte) ([]byte, error) {
	if _, err := NewVerifier(key.Public()); err != nil {
		return nil, err
	}
	if len(password) == 0 {
		return cryptoutils.MarshalPrivateKeyToPEM(key)
	}
	der, err := cryptoutils.MarshalPrivateKeyToEncryptedDER(key, cryptoutils.StaticPasswordFunc(password))
	if err != nil {
		return nil, fmt.Errorf("failed to encrypt private key: %w", err)
	}
	return cryptoutils.PEMEncode(cryptoutils.EncryptedSigstorePrivateKeyPEMType, der), nil
}

// MarshalPublicKey encodes pub as a PKIX "PUBLIC KEY" PEM block.
func MarshalPublicKey(pub crypto.PublicKey) ([]byte, error) {
	b, err := cryptoutils.MarshalPublicKeyToPEM(pub)
	if err != nil {
		return nil, fmt.Errorf("failed to encode public key: %w", err)
	}
	return b, nil
}

// Fingerprint returns "SHA256:" and the hex SHA-256 of pub's PKIX DER
// encoding, the key identifier printed on certificates.
func Fingerprint(pub crypto.PublicKey) (string, error) {
	der, err := cryptoutils.MarshalPublicKeyToDER(pub)
	if err != nil {
		return "", fmt.Errorf("failed to encode public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return "SHA256:" + hex.EncodeToString(sum[:]), nil
}

// LoadVerifier parses a PEM public key (PKIX "PUBLIC KEY", ECDSA P-256 or
// Ed25519) and returns a verifier for Verify.
func LoadVerifier(pemBytes []byte) (signature.Verifier, error) {
	if len(pemBytes) > maxKeyFileSize {
		return nil, errors.New("failed to parse public key: file too large")
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("failed to parse public key: %w", err)
	}
	return NewVerifier(pub)
}

// signerFor wraps a private key in the sigstore signer cosign would use.
func signerFor(key crypto.PrivateKey) (signature.SignerVerifier, error) {
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, errors.New("unsupported ECDSA curve: use P-256")
		}
		return signature.LoadECDSASignerVerifier(k, crypto.SHA256)
	case ed25519.PrivateKey:
		return signature.LoadED25519SignerVerifier(k)
	}
	return nil, fmt.Errorf("unsupported private key type %T: use ECDSA P-256 or Ed25519", key)
}

// parsePrivateKey decodes a PEM private key, asking for the password only if
// the key is encrypted. Errors never carry key material or the password.
func parsePrivateKey(pemBytes []byte, password func() ([]byte, error)) (crypto.PrivateKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("failed to parse private key: no PEM block found")
	}
	if !isEncrypted(block) {
		key, err := cryptoutils.UnmarshalPEMToPrivateKey(pemBytes, nil)
		if err != nil {
			return nil, errors.New("failed to parse private key: not a PKCS #8, SEC 1 or encrypted sigstore/cosign key")
		}
		return key, nil
	}
	return decryptPrivateKey(pemBytes, password)
}

func decryptPrivateKey(pemBytes []byte, password func() ([]byte, error)) (crypto.PrivateKey, error) {
	if password == nil {
		return nil, errors.New("private key is encrypted, but no password was provided")
	}
	pw, err := password()
	if err != nil {
		return nil, fmt.Errorf("failed to read password: %w", err)
	}
	if len(pw) == 0 {
		return nil, errors.New("private key is encrypted, but the password is empty")
	}
	key, err := cryptoutils.UnmarshalPEMToPrivateKey(pemBytes, cryptoutils.StaticPasswordFunc(pw))
	if err != nil {
		return nil, errors.New("failed to decrypt private key: wrong password or corrupted key")
	}
	return key, nil
}

func isEncrypted(block *pem.Block) bool {
	_, legacy := block.Headers["Proc-Type"]
	switch cryptoutils.PEMType(block.Type) {
	case cryptoutils.EncryptedSigstorePrivateKeyPEMType, "ENCRYPTED COSIGN PRIVATE KEY", "ENCRYPTED PRIVATE KEY":
		return true
	}
	return legacy
}
