package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/cryptoshred/cryptoshred/attest"
)

// TestAttestVerifyFailsWithoutCryptographicErase: attest verify of a
// signed envelope whose predicate says Clear instead of Purge, or that
// the key was still present with the Transit mount gone, prints FAIL for
// the predicate naming the field and exits 5, not PASS.
func TestAttestVerifyFailsWithoutCryptographicErase(t *testing.T) {
	t.Setenv("VAULT_ADDR", "http://127.0.0.1:1")
	t.Setenv("VAULT_TOKEN", "unused")
	for field, mutate := range map[string]func(*attest.Statement){
		"method.category":                      func(st *attest.Statement) { st.Predicate.Method.Category = "Clear" },
		"backups[0].verification.result":       func(st *attest.Statement) { st.Predicate.Backups[0].Verification.Result = "still present" },
		"backups[0].verification.mountPresent": func(st *attest.Statement) { st.Predicate.Backups[0].Verification.MountPresent = false },
	} {
		env, pub := signedStatementFile(t, mutate)
		var out, errb bytes.Buffer
		code := run(context.Background(), []string{"cryptoshred", "attest", "verify", env, "--key", pub}, strings.NewReader(""), &out, &errb)
		fail, pass := fmt.Sprintf("FAIL  %-15s", attest.CheckPredicate), fmt.Sprintf("PASS  %-15s", attest.CheckPredicate)
		if code != exitVerifyKO || !strings.Contains(out.String(), fail) || !strings.Contains(out.String()+errb.String(), field) || strings.Contains(out.String(), pass) {
			t.Errorf("%s: exit %d, want %d with %q naming it\nstdout: %s\nstderr: %s", field, code, exitVerifyKO, fail, out.String(), errb.String())
		}
	}
}

// signedStatementFile signs the schema's example statement, changed by
// mutate, with a key made here, bypassing attest.Sign's own validation as
// a forger would; it returns the envelope's and the public key's paths.
func signedStatementFile(t *testing.T, mutate func(*attest.Statement)) (env, pub string) {
	t.Helper()
	var st attest.Statement
	raw, err := os.ReadFile("../../attest/testdata/statement.json")
	if err == nil {
		err = json.Unmarshal(raw, &st)
	}
	if err != nil {
		t.Fatal(err)
	}
	mutate(&st)
	payload, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	key, err := attest.GenerateKey(attest.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := key.Sign(rand.Reader, dsse.PAE(attest.PayloadType, payload), crypto.Hash(0))
	if err != nil {
		t.Fatal(err)
	}
	envJSON, err := json.Marshal(map[string]any{"payloadType": attest.PayloadType, "payload": base64.StdEncoding.EncodeToString(payload),
		"signatures": []map[string]string{{"keyid": "", "sig": base64.StdEncoding.EncodeToString(sig)}}})
	if err != nil {
		t.Fatal(err)
	}
	pemPub, err := attest.MarshalPublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	env, pub = filepath.Join(dir, "forged.dsse.json"), filepath.Join(dir, "signer.pub")
	for path, b := range map[string][]byte{env: envJSON, pub: pemPub} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return env, pub
}
