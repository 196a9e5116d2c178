package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cryptoshred/cryptoshred/internal/vaulttest"
	"github.com/cryptoshred/cryptoshred/shred/ledger"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// TestLedgerExportVerifiesOffline: an export verifies with the Vault
// process stopped, a case's export too (saying what it did not check),
// and one edited byte fails.
func TestLedgerExportVerifiesOffline(t *testing.T) {
	env := newTestEnv(t)
	a := protectFile(t, env, "a.tar", []byte("a"))
	protectFile(t, env, "b.tar", []byte("b"))
	shredCase(t, env, "EXP", a.ID)
	full, one := filepath.Join(env.dir, "ledger.json"), filepath.Join(env.dir, "case.json")
	mustRun(t, env.srv, env.roles.auditor, "ledger", "export", "-o", full)
	mustRun(t, env.srv, env.roles.auditor, "ledger", "export", "--case", "EXP", "-o", one)
	foreign := foreignExport(t, filepath.Join(env.dir, "foreign.json"))
	env.srv.Stop()
	t.Setenv("VAULT_TOKEN", "")

	// The case's export says which slots it could not check: another
	// case's entry (b's protect) is a hash alone there.
	for f, checked := range map[string]string{full: "every link and signature verified", one: "carried as hashes alone, as an export of one case carries other cases' entries: whose they are"} {
		r := mustRun(t, env.srv, "", "ledger", "verify", "--file", f)
		if !strings.Contains(r.stdout, "ledger OK") || !strings.Contains(r.stdout, checked) || !strings.Contains(r.stdout, "verified with the compliance key v1 sha256:") {
			t.Fatalf("offline verify of %s:\n%s", f, r.stdout)
		}
	}
	// With the attestation: the whole export shows its head in the chain;
	// the case's says its chain commits to no slot before a hash alone.
	att := filepath.Join(env.dir, "EXP.dsse.json")
	for f, says := range map[string]string{full: "is still in the chain", one: "commits to no slot before a slot carried as a hash alone"} {
		if r := mustRun(t, env.srv, "", "ledger", "verify", "--file", f, "--attestation", att); !strings.Contains(r.stdout, says) {
			t.Fatalf("offline verify of %s with the attestation, want %q:\n%s", f, says, r.stdout)
		}
	}
	checkKeyPins(t, env, full, foreign)
	caseExport, _ := os.ReadFile(one)
	if bytes.Contains(caseExport, []byte(`b.tar.age`)) {
		t.Fatal("the case's export holds another backup's entry")
	}
	data, _ := os.ReadFile(full)
	edited := filepath.Join(env.dir, "edited.json")
	os.WriteFile(edited, bytes.Replace(data, []byte(`\"actor\":\"`), []byte(`\"actor\":\"x`), 1), 0o600)
	if bytes.Equal(mustRead(t, edited), data) {
		t.Fatal("the test did not edit the export")
	}
	r := expectCode(t, exitVerifyKO, env.srv, "", "ledger", "verify", "--file", edited)
	if !strings.Contains(r.stdout+r.stderr, "ledger") {
		t.Fatalf("edited export: %s %s", r.stdout, r.stderr)
	}
}

// foreignExport writes to path the export of another Vault's ledger, one
// a forger made and signed with keys of their own, and returns path.
func foreignExport(t *testing.T, path string) string {
	t.Helper()
	forger := newTestEnv(t)
	b := protectFile(t, forger, "f.tar", []byte("forged"))
	shredCase(t, forger, "EXP", b.ID)
	mustRun(t, forger.srv, forger.roles.auditor, "ledger", "export", "-o", path)
	return path
}

// checkKeyPins: with the published fingerprints given, the export's keys
// must be those; one role's key given as another's, the two roles' keys
// swapped, or an export carrying a forger's keys (foreign) is refused
// (exit 5), as a pin without an export is (exit 2).
func checkKeyPins(t *testing.T, env testEnv, export, foreign string) {
	t.Helper()
	out := mustRun(t, env.srv, "", "ledger", "verify", "--file", export).stdout
	fp := map[string]string{}
	for _, role := range ledger.Roles {
		m := regexp.MustCompile(`the ` + role + ` key v1 (sha256:[0-9a-f]{64})`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no %s key fingerprint in:\n%s", role, out)
		}
		fp[role] = m[1]
	}
	pinned := mustRun(t, env.srv, "", "ledger", "verify", "--file", export,
		"--key-fingerprint", "admin="+fp["admin"], "--key-fingerprint", "compliance="+fp["compliance"])
	if !strings.Contains(pinned.stdout, "ledger OK") || strings.Count(pinned.stdout, "(one of the fingerprints given)") != 2 {
		t.Fatalf("verify with the published fingerprints:\n%s", pinned.stdout)
	}
	swapped := expectCode(t, exitVerifyKO, env.srv, "", "ledger", "verify", "--file", export,
		"--key-fingerprint", "admin="+fp["compliance"], "--key-fingerprint", "compliance="+fp["compliance"])
	if !strings.Contains(swapped.stderr, "the admin key v1 "+fp["admin"]) || strings.Contains(swapped.stdout, "ledger OK") {
		t.Fatalf("verify with the compliance key pinned as the admin's: %s %s", swapped.stdout, swapped.stderr)
	}
	refusedPins(t, env, export, "the roles' keys swapped", "the admin key v1 "+fp["admin"], "admin="+fp["compliance"], "compliance="+fp["admin"])
	refusedPins(t, env, foreign, "a forger's keys", "key v1 sha256:", "admin="+fp["admin"], "compliance="+fp["compliance"])
	expectCode(t, exitUsage, env.srv, env.roles.auditor, "ledger", "verify", "--key-fingerprint", "admin="+fp["admin"])
}

// refusedPins fails unless ledger verify of export with pins exits 5
// naming a key (want) and does not say the ledger is OK.
func refusedPins(t *testing.T, env testEnv, export, what, want string, pins ...string) {
	t.Helper()
	args := []string{"ledger", "verify", "--file", export}
	for _, p := range pins {
		args = append(args, "--key-fingerprint", p)
	}
	r := expectCode(t, exitVerifyKO, env.srv, "", args...)
	if !strings.Contains(r.stderr, want) || strings.Contains(r.stdout, "ledger OK") {
		t.Fatalf("verify of an export with %s: %s %s", what, r.stdout, r.stderr)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRestoredSnapshotIsDetected: Vault's data restored from a copy taken
// before a shred brings the keys back and a shorter, valid chain; the
// attestation's ledger head is no longer in it, and ledger verify
// --attestation says so (exit 5, naming the attestation).
func TestRestoredSnapshotIsDetected(t *testing.T) {
	p := vaulttest.StartPersistent(t)
	mustRun(t, p.Server, p.Token, "init")
	env := testEnv{srv: p.Server, dir: t.TempDir(), roles: roles{
		admin:      p.TokenWithPolicies(t, "backup-admin", vault.PolicyAdmin),
		compliance: p.TokenWithPolicies(t, "compliance-officer", vault.PolicyCompliance),
		auditor:    p.TokenWithPolicies(t, "auditor", vault.PolicyAuditor),
	}}
	b := protectFile(t, env, "r.tar", []byte("restored later"))
	snap := p.Snapshot(t)
	shredCase(t, env, "SNAP", b.ID)
	att := filepath.Join(env.dir, "SNAP.dsse.json")
	mustRun(t, env.srv, env.roles.auditor, "ledger", "verify", "--attestation", att)

	p.RestoreSnapshot(t, snap)
	mustRun(t, env.srv, env.roles.auditor, "ledger", "verify")
	r := expectCode(t, exitVerifyKO, env.srv, env.roles.auditor, "ledger", "verify", "--attestation", att)
	if !strings.Contains(r.stderr, "no longer in the chain") || !strings.Contains(r.stderr, "SNAP.dsse.json") {
		t.Fatalf("verify after a restored snapshot: %s", r.stderr)
	}
}
