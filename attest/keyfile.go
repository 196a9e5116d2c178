package attest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/sigstore/sigstore/pkg/signature"
)

// WriteKeyPair generates a key for alg and writes it as PEM: the private key
// to privPath with mode 0600, encrypted when password is not empty, and the
// public key to pubPath with mode 0644. It refuses to overwrite either file.
// Each file is written to a temporary file in the same directory, synced,
// then linked into place, so a crash never leaves a partial key.
func WriteKeyPair(privPath, pubPath string, alg Algorithm, password []byte) error {
	key, err := GenerateKey(alg)
	if err != nil {
		return err
	}
	privPEM, err := MarshalPrivateKey(key, password)
	if err != nil {
		return err
	}
	pubPEM, err := MarshalPublicKey(key.Public())
	if err != nil {
		return err
	}
	if err := writeNewFile(privPath, privPEM, 0o600); err != nil {
		return err
	}
	if err := writeNewFile(pubPath, pubPEM, 0o644); err != nil {
		_ = os.Remove(privPath)
		return err
	}
	return nil
}

// writeNewFile atomically creates path with data and mode, failing if path
// exists. The temporary file is created with mode 0600.
func writeNewFile(path string, data []byte, mode fs.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("failed to create %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	if err := writeAndSync(f, data, mode); err != nil {
		return fmt.Errorf("failed to write %s: %w", path, err)
	}
	if err := os.Link(f.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s already exists; refusing to overwrite it", path)
		}
		return fmt.Errorf("failed to create %s: %w", path, err)
	}
	return syncDir(dir)
}

func writeAndSync(f *os.File, data []byte, mode fs.FileMode) error {
	err := f.Chmod(mode)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("failed to sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("failed to sync %s: %w", dir, err)
	}
	return nil
}

// LoadSigner returns the signer for the PEM private key at path (ECDSA
// P-256 or Ed25519; password is called only if the key is encrypted). Keys
// held in Vault are loaded by package vaultsign.
func LoadSigner(ctx context.Context, path string, password func() ([]byte, error)) (signature.SignerVerifier, error) {
	if scheme, _, ok := strings.Cut(path, "://"); ok {
		return nil, fmt.Errorf("unsupported key reference scheme %q: use a PEM file, or hashivault://NAME through package vaultsign", scheme)
	}
	return loadFileSigner(path, password)
}

func loadFileSigner(path string, password func() ([]byte, error)) (signature.SignerVerifier, error) {
	pemBytes, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	key, err := parsePrivateKey(pemBytes, password)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return signerFor(key)
}

func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("failed to open signing key: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("failed to read signing key %s: %w", path, err)
	}
	if len(b) > maxKeyFileSize {
		return nil, fmt.Errorf("signing key %s is too large to be a PEM key", path)
	}
	return b, nil
}
