package main

import (
	"os"
	"strings"
	"testing"
)

// TestLocalCiphertextChangedBehindTheToolsBack: a held backup's local
// ciphertext deleted or modified is reported by backup verify, hold
// place and shred plan.
func TestLocalCiphertextChangedBehindTheToolsBack(t *testing.T) {
	env := newTestEnv(t)
	gone := protectFile(t, env, "gone.tar", []byte("to be deleted behind our back"))
	changed := protectFile(t, env, "changed.tar", []byte("to be modified behind our back"))
	intact := protectFile(t, env, "intact.tar", []byte("left alone"))
	mustRun(t, env.srv, env.roles.admin, "backup", "verify", gone.ID, changed.ID, intact.ID)

	if err := os.Remove(gone.Ciphertext.Path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(changed.Ciphertext.Path, []byte("age-encryption.org/v1\nnot what was registered"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := expectCode(t, exitVerifyKO, env.srv, env.roles.auditor, "backup", "verify", gone.ID, changed.ID, intact.ID)
	if !strings.Contains(r.stdout, gone.ID) || !strings.Contains(r.stdout, "is missing") || !strings.Contains(r.stdout, "registered") ||
		!strings.Contains(r.stdout, "PASS "+intact.ID) {
		t.Fatalf("backup verify:\n%s\n%s", r.stdout, r.stderr)
	}
	mustRun(t, env.srv, env.roles.compliance, "case", "open", "LOST", "--authority", "A", "--reference", "R", "--controller", "C")
	r = expectCode(t, exitVerifyKO, env.srv, env.roles.compliance, "hold", "place", "--case", "LOST", gone.ID, changed.ID, intact.ID)
	if !strings.Contains(r.stderr, gone.ID) || !strings.Contains(r.stderr, "missing or changed") {
		t.Fatalf("hold place over lost ciphertexts: %s", r.stderr)
	}
	if r := mustRun(t, env.srv, env.roles.auditor, "--format", "json", "case", "show", "LOST"); strings.Count(r.stdout, `"backup"`) != 3 {
		t.Fatalf("the key holds were not all placed:\n%s", r.stdout)
	}
	mustRun(t, env.srv, env.roles.compliance, "case", "close", "LOST", "--decision-ref", "D", "--decision-file", decisionFile(t, env), "--yes")
	r = mustRun(t, env.srv, env.roles.admin, "shred", "plan", "--case", "LOST")
	if strings.Count(r.stdout, "the ciphertext is missing or changed") != 2 {
		t.Fatalf("shred plan does not warn about both lost ciphertexts:\n%s", r.stdout)
	}
}
