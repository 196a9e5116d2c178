package attest

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cryptoshred/cryptoshred/internal/testtools"
)

// cosignVersion is the cosign release the interop tests are written against.
const cosignVersion = "v3.1.2"

// cosign returns the cosign binary (COSIGN_BIN, the tool cache,
// GOPATH/bin or PATH). Without one the test fails.
func cosign(t *testing.T) string {
	return testtools.Find(t, "COSIGN_BIN", "cosign", cosignVersion, "`make tools`")
}

// runCosign runs cosign offline in dir and returns its combined output.
func runCosign(t *testing.T, dir string, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, cosign(t), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), append([]string{"HOME=" + dir, "TUF_ROOT=" + filepath.Join(dir, "tuf")}, env...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// cosignVerify runs verify-blob-attestation on env (and blob, if not nil).
func cosignVerify(t *testing.T, pubPath string, env, blob []byte, extra ...string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	envPath := filepath.Join(dir, "attestation.intoto.json")
	writeFile(t, envPath, env)
	args := []string{"verify-blob-attestation", "--key", pubPath, "--type", PredicateType,
		"--signature", envPath, "--insecure-ignore-tlog"}
	args = append(args, extra...)
	if blob != nil {
		blobPath := filepath.Join(dir, "backup.tar.age")
		writeFile(t, blobPath, blob)
		args = append(args, blobPath)
	}
	return runCosign(t, dir, nil, args...)
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestCosignVerifiesAttestation(t *testing.T) {
	for _, alg := range []Algorithm{ECDSAP256, Ed25519} {
		t.Run(string(alg), func(t *testing.T) {
			s, _, pub := newFileSigner(t, alg, []byte("pw"))
			env := signTest(t, s)
			wantCosign(t, pub, env, []byte(blobContent), true)
			wantCosign(t, pub, env, nil, true, "--check-claims=false")
			wantCosign(t, pub, env, []byte("another backup"), false)
			wantCosign(t, pub, tamper(t, env), []byte(blobContent), false)
			wantCosign(t, pub, tamper(t, env), nil, false, "--check-claims=false")
			other, _, _ := newFileSigner(t, alg, nil)
			wantCosign(t, pub, signTest(t, other), nil, false, "--check-claims=false")
		})
	}
}

func wantCosign(t *testing.T, pub string, env, blob []byte, ok bool, extra ...string) {
	t.Helper()
	out, err := cosignVerify(t, pub, env, blob, extra...)
	if ok && (err != nil || !strings.Contains(out, "Verified OK")) {
		t.Errorf("cosign rejected a good attestation (%v):\n%s", err, out)
	}
	t.Logf("cosign (want ok=%v): %v: %s", ok, err, lastLine(out))
	if !ok && err == nil {
		t.Errorf("cosign accepted a bad attestation:\n%s", out)
	}
}

// tamper changes one byte of the signed statement (a digit of the ledger
// entry count) and leaves the signature as it was.
func tamper(t *testing.T, env []byte) []byte {
	t.Helper()
	e := decodeEnv(t, env)
	p, _ := base64.StdEncoding.DecodeString(e.Payload)
	p = bytes.Replace(p, []byte(`"entries":1523`), []byte(`"entries":1524`), 1)
	e.Payload = base64.StdEncoding.EncodeToString(p)
	return encodeEnv(t, e)
}

func TestCosignRejectsOtherPredicateType(t *testing.T) {
	s, _, pub := newFileSigner(t, ECDSAP256, nil)
	dir := t.TempDir()
	envPath := filepath.Join(dir, "att.json")
	writeFile(t, envPath, signTest(t, s))
	out, err := runCosign(t, dir, nil, "verify-blob-attestation", "--key", pub, "--type", "https://slsa.dev/provenance/v1",
		"--signature", envPath, "--insecure-ignore-tlog", "--check-claims=false")
	if err == nil || !strings.Contains(out, "invalid predicate type") {
		t.Errorf("cosign accepted the wrong --type (%v):\n%s", err, out)
	}
}

// TestCosignKeys checks key interop both ways: cosign reads our encrypted
// key, and LoadSigner reads a key made by cosign generate-key-pair.
func TestCosignKeys(t *testing.T) {
	dir := t.TempDir()
	priv, pub := filepath.Join(dir, "ours.pem"), filepath.Join(dir, "ours.pub")
	if err := WriteKeyPair(priv, pub, ECDSAP256, []byte("pw")); err != nil {
		t.Fatal(err)
	}
	out, err := runCosign(t, dir, []string{"COSIGN_PASSWORD=pw"}, "public-key", "--key", priv)
	if want, _ := os.ReadFile(pub); err != nil || !strings.Contains(out, string(want)) {
		t.Errorf("cosign public-key on our key (%v):\n%s", err, out)
	}
	if out, err := runCosign(t, dir, []string{"COSIGN_PASSWORD=pw2"}, "generate-key-pair"); err != nil {
		t.Fatalf("cosign generate-key-pair: %v\n%s", err, out)
	}
	s, err := LoadSigner(context.Background(), filepath.Join(dir, "cosign.key"), func() ([]byte, error) { return []byte("pw2"), nil })
	if err != nil {
		t.Fatalf("LoadSigner(cosign.key): %v", err)
	}
	cosignPub := filepath.Join(dir, "cosign.pub")
	env := signTest(t, s)
	wantCosign(t, cosignPub, env, []byte(blobContent), true)
	pubPEM, _ := os.ReadFile(cosignPub)
	v, err := LoadVerifier(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(context.Background(), env, v, VerifyOptions{}); err != nil {
		t.Errorf("Verify with cosign.pub: %v", err)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// TestCosignVerifiesVectors runs cosign on the committed test vectors.
func TestCosignVerifiesVectors(t *testing.T) {
	for _, alg := range vectorAlgs {
		pub, err := filepath.Abs(filepath.Join("testdata", "vector-"+string(alg)+".pub"))
		if err != nil {
			t.Fatal(err)
		}
		env := readTestdata(t, "vector-"+string(alg)+".intoto.json")
		wantCosign(t, pub, env, readTestdata(t, "vector.blob"), true)
	}
}

// TestCosignVerifiesOnePart: cosign verifies a ciphertext against the part
// of a multi-part attestation that names it, and not against another.
func TestCosignVerifiesOnePart(t *testing.T) {
	s, _, pub := newFileSigner(t, ECDSAP256, nil)
	st := manySubjects(7)
	parts := SplitStatements(st.Predicate, digestsOf(st), 3)
	var envs [][]byte
	for _, p := range parts {
		env, err := Sign(context.Background(), p, s)
		if err != nil {
			t.Fatal(err)
		}
		envs = append(envs, env)
	}
	blob := []byte("file-0000004.age") // subject of bk-0000004, in part 2 of 3
	wantCosign(t, pub, envs[1], blob, true)
	wantCosign(t, pub, envs[1], nil, true, "--check-claims=false")
	wantCosign(t, pub, envs[0], blob, false)
	wantCosign(t, pub, envs[2], blob, false)
}
