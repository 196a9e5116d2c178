package attest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/youmark/pkcs8"
)

func TestWriteKeyPair(t *testing.T) {
	for _, pw := range [][]byte{nil, []byte("s3cret-pw")} {
		dir := t.TempDir()
		priv, pub := filepath.Join(dir, "k.pem"), filepath.Join(dir, "k.pub")
		if err := WriteKeyPair(priv, pub, "", pw); err != nil {
			t.Fatal(err)
		}
		wantMode(t, priv, 0o600)
		wantMode(t, pub, 0o644)
		wantType := "PRIVATE KEY"
		if pw != nil {
			wantType = "ENCRYPTED SIGSTORE PRIVATE KEY"
		}
		if got := pemType(t, priv); got != wantType {
			t.Errorf("private key PEM type %q, want %q", got, wantType)
		}
		if got := pemType(t, pub); got != "PUBLIC KEY" {
			t.Errorf("public key PEM type %q", got)
		}
		before, _ := os.ReadFile(priv)
		if err := WriteKeyPair(priv, filepath.Join(dir, "other.pub"), Ed25519, nil); err == nil || !strings.Contains(err.Error(), "already exists") {
			t.Errorf("overwrite: err = %v", err)
		}
		if after, _ := os.ReadFile(priv); !bytes.Equal(before, after) {
			t.Error("existing private key was changed")
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 2 {
			t.Errorf("directory holds %d files, want the 2 keys and no temporary files", len(entries))
		}
	}
}

func wantMode(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != mode {
		t.Errorf("%s has mode %v, want %v", path, st.Mode().Perm(), mode)
	}
}

func pemType(t *testing.T, path string) string {
	t.Helper()
	b, _ := os.ReadFile(path)
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("%s holds no PEM", path)
	}
	return block.Type
}

func TestLoadSignerPasswords(t *testing.T) {
	dir := t.TempDir()
	priv, pub := filepath.Join(dir, "k.pem"), filepath.Join(dir, "k.pub")
	pw := []byte("correct horse")
	if err := WriteKeyPair(priv, pub, Ed25519, pw); err != nil {
		t.Fatal(err)
	}
	keyPEM, _ := os.ReadFile(priv)
	for name, cb := range map[string]func() ([]byte, error){
		"wrong password": func() ([]byte, error) { return []byte("incorrect horse"), nil },
		"empty password": func() ([]byte, error) { return nil, nil },
		"no callback":    nil,
		"callback error": func() ([]byte, error) { return nil, errors.New("no terminal") },
	} {
		_, err := LoadSigner(context.Background(), priv, cb)
		if err == nil {
			t.Fatalf("%s: key loaded", name)
		}
		wantNoSecrets(t, err, pw, keyPEM)
	}
	if _, err := LoadSigner(context.Background(), priv, func() ([]byte, error) { return pw, nil }); err != nil {
		t.Errorf("right password: %v", err)
	}
}

func wantNoSecrets(t *testing.T, err error, pw, keyPEM []byte) {
	t.Helper()
	msg := err.Error()
	block, _ := pem.Decode(keyPEM)
	body := strings.Split(string(pem.EncodeToMemory(&pem.Block{Type: "X", Bytes: block.Bytes})), "\n")[1]
	if strings.Contains(msg, string(pw)) || strings.Contains(msg, body[:16]) || strings.Contains(msg, "PRIVATE KEY-----") {
		t.Errorf("error leaks secrets: %s", msg)
	}
}

func TestLoadSignerPlainKeyNeverAsksPassword(t *testing.T) {
	dir := t.TempDir()
	priv, pub := filepath.Join(dir, "k.pem"), filepath.Join(dir, "k.pub")
	if err := WriteKeyPair(priv, pub, ECDSAP256, nil); err != nil {
		t.Fatal(err)
	}
	_, err := LoadSigner(context.Background(), priv, func() ([]byte, error) {
		t.Error("password asked for an unencrypted key")
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestLoadSignerForeignFormats loads keys as openssl and others write them.
func TestLoadSignerForeignFormats(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sec1, _ := x509.MarshalECPrivateKey(k)
	enc, err := pkcs8.MarshalPrivateKey(k, []byte("pw"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string][]byte{
		"SEC 1":            pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}),
		"encrypted PKCS 8": pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: enc}),
	} {
		path := filepath.Join(t.TempDir(), "key.pem")
		os.WriteFile(path, p, 0o600)
		s, err := LoadSigner(context.Background(), path, func() ([]byte, error) { return []byte("pw"), nil })
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if pub, _ := s.PublicKey(); !k.PublicKey.Equal(pub) {
			t.Errorf("%s: loaded another key", name)
		}
	}
}

func TestUnsupportedKeys(t *testing.T) {
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	for name, k := range map[string]crypto.Signer{"P-384": p384, "RSA": rsaKey} {
		privPEM, _ := cryptoutils.MarshalPrivateKeyToPEM(k)
		path := filepath.Join(t.TempDir(), "key.pem")
		os.WriteFile(path, privPEM, 0o600)
		if _, err := LoadSigner(context.Background(), path, nil); err == nil {
			t.Errorf("%s private key accepted", name)
		}
		pubPEM, _ := cryptoutils.MarshalPublicKeyToPEM(k.Public())
		if _, err := LoadVerifier(pubPEM); err == nil {
			t.Errorf("%s public key accepted", name)
		}
	}
	if _, err := GenerateKey("rsa-2048"); err == nil {
		t.Error("GenerateKey accepted rsa-2048")
	}
	for _, ref := range []string{"awskms://alias/x", "hashivault://bad/name", filepath.Join(t.TempDir(), "missing.pem")} {
		if _, err := LoadSigner(context.Background(), ref, nil); err == nil {
			t.Errorf("LoadSigner(%q) succeeded", ref)
		}
	}
	if _, err := LoadVerifier([]byte("not a key")); err == nil {
		t.Error("LoadVerifier accepted garbage")
	}
}

func TestFingerprint(t *testing.T) {
	k, _ := GenerateKey(ECDSAP256)
	fp, err := Fingerprint(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(k.Public())
	sum := sha256.Sum256(der)
	if fp != "SHA256:"+hex.EncodeToString(sum[:]) || !regexp.MustCompile(`^SHA256:[0-9a-f]{64}$`).MatchString(fp) {
		t.Errorf("Fingerprint = %q", fp)
	}
}
