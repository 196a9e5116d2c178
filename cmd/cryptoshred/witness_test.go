package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/internal/testtools"
)

// TestWitness: the auditor witnesses an attestation with a read-only
// token and its own key; attest verify passes only with both, and cosign
// verifies each envelope with its own key and rejects it with the other.
// The witness refuses when a key is back in Vault or a ciphertext is still
// where it was stored.
func TestWitness(t *testing.T) {
	env := newTestEnv(t)
	b := protectFile(t, env, "w.tar", []byte("witnessed"))
	keep := env.dir + "/kept-copy.age"
	copyFile(t, b.Ciphertext.Path, keep)
	shredCase(t, env, "WIT", b.ID)
	att := filepath.Join(env.dir, "WIT.dsse.json")
	_, adminPub := env.dir+"/attest.key", env.dir+"/attest.pub"
	auditorKey := filepath.Join(env.dir, "auditor")
	if err := attest.WriteKeyPair(auditorKey+".key", auditorKey+".pub", attest.Ed25519, nil); err != nil {
		t.Fatal(err)
	}
	wit := filepath.Join(env.dir, "WIT.witness.json")
	mustRun(t, env.srv, env.roles.auditor, "attest", "witness", att, "--key", adminPub, "--sign-key", auditorKey+".key", "-o", wit)

	r := mustRun(t, env.srv, "", "attest", "verify", att, "--key", adminPub, "--witness", wit, "--witness-key", auditorKey+".pub")
	if !strings.Contains(r.stdout, "PASS  witness") {
		t.Fatalf("attest verify with the witness:\n%s", r.stdout)
	}
	// A witness that fails is reported before any verdict, and none says
	// VERIFIED; in JSON it is a check of the one report.
	bad := expectCode(t, exitVerifyKO, env.srv, "", "attest", "verify", att, "--key", adminPub, "--witness", wit, "--witness-key", adminPub)
	if !strings.Contains(bad.stdout, "FAIL  witness") || strings.Contains(bad.stdout, "VERIFIED") {
		t.Fatalf("attest verify with a witness that fails:\n%s", bad.stdout)
	}
	js := mustRun(t, env.srv, "", "attest", "verify", att, "--format", "json", "--key", adminPub, "--witness", wit, "--witness-key", auditorKey+".pub")
	var rep attest.Report
	if err := json.Unmarshal([]byte(js.stdout), &rep); err != nil || rep.Checks[len(rep.Checks)-1].Name != attest.CheckWitness || rep.Statement == nil {
		t.Fatalf("attest verify --format json with the witness: %v\n%s", err, js.stdout)
	}
	r = mustRun(t, env.srv, "", "attest", "show", att, "--key", adminPub, "--witness", wit, "--witness-key", auditorKey+".pub")
	if !strings.Contains(r.stdout, "Witnessed by       token-auditor") {
		t.Fatalf("the certificate does not show the witness:\n%s", r.stdout)
	}
	wantCosign(t, true, att, wit, auditorKey+".pub", attest.WitnessPredicateType)
	wantCosign(t, false, att, wit, adminPub, attest.WitnessPredicateType)
	wantCosign(t, false, keep, att, auditorKey+".pub", attest.PredicateType)
	wantCosign(t, true, keep, att, adminPub, attest.PredicateType)

	copyFile(t, keep, b.Ciphertext.Path)
	r = expectCode(t, exitRefused, env.srv, env.roles.auditor, "attest", "witness", att, "--key", adminPub, "--sign-key", auditorKey+".key", "-o", wit+"2")
	if !strings.Contains(r.stderr, "ciphertext gone false") {
		t.Fatalf("witness with the ciphertext back in place: %s", r.stderr)
	}
	os.Remove(b.Ciphertext.Path)
	if _, err := env.srv.Root(t).Logical().Write("cryptoshred-transit/keys/"+b.Key, map[string]any{"type": "aes256-gcm96"}); err != nil {
		t.Fatal(err)
	}
	r = expectCode(t, exitRefused, env.srv, env.roles.auditor, "attest", "witness", att, "--key", adminPub, "--sign-key", auditorKey+".key", "-o", wit+"3")
	if !strings.Contains(r.stderr, "key absent false") {
		t.Fatalf("witness with the key re-created: %s", r.stderr)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// wantCosign runs cosign verify-blob-attestation on envelope, whose
// subject blob is, with key and predicate type typ.
func wantCosign(t *testing.T, ok bool, blob, envelope, key, typ string) {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, testtools.Find(t, "COSIGN_BIN", "cosign", "v3.1.2", "`make tools`"),
		"verify-blob-attestation", "--key", key, "--type", typ, "--signature", envelope, "--insecure-ignore-tlog", blob)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir, "TUF_ROOT="+filepath.Join(dir, "tuf"))
	out, err := cmd.CombinedOutput()
	if ok && (err != nil || !strings.Contains(string(out), "Verified OK")) {
		t.Errorf("cosign rejected %s with %s:\n%s", envelope, key, out)
	}
	if !ok && err == nil {
		t.Errorf("cosign accepted %s with %s:\n%s", envelope, key, out)
	}
}
