package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
)

// closedCaseCLI protects data, holds it for caseID and closes the case, all
// through the CLI with each role's token.
func closedCaseCLI(t *testing.T, env testEnv, caseID string, data []byte) *catalog.Backup {
	t.Helper()
	b := protectFile(t, env, caseID+".tar", data, "--system", "casework", "--category", "health")
	mustRun(t, env.srv, env.roles.compliance, "case", "open", caseID, "--authority", "Example DPA",
		"--reference", "J.nr. "+caseID, "--controller", "Example Ministry")
	mustRun(t, env.srv, env.roles.compliance, "hold", "place", "--case", caseID, b.ID)
	mustRun(t, env.srv, env.roles.compliance, "case", "close", caseID, "--decision-ref", "closing letter",
		"--decision-file", decisionFile(t, env), "--yes")
	return b
}

func signingKey(t *testing.T, env testEnv) (priv, pub string) {
	t.Helper()
	priv = filepath.Join(env.dir, "attest.key")
	mustRun(t, env.srv, env.roles.admin, "attest", "keygen", "-o", priv, "--no-password")
	if st, err := os.Stat(priv); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("private key file: %v %v", st, err)
	}
	return priv, filepath.Join(env.dir, "attest.pub")
}

func TestShredPlanRunAttestVerifyShow(t *testing.T) {
	env := newTestEnv(t)
	b := closedCaseCLI(t, env, "DPA-7", []byte("old casework"))
	ciphertext, _ := os.ReadFile(b.Ciphertext.Path)
	priv, pub := signingKey(t, env)

	plan := mustRun(t, env.srv, env.roles.admin, "shred", "plan", "--case", "DPA-7")
	if !strings.Contains(plan.stdout, "destroy") || !strings.Contains(plan.stdout, "disposal is not recorded") {
		t.Fatalf("plan: %s", plan.stdout)
	}
	expectCode(t, exitUsage, env.srv, env.roles.admin, "shred", "run", "--case", "DPA-7", "--sign-key", priv, "--vault-snapshot-retention", "720h")
	expectCode(t, exitUsage, env.srv, env.roles.admin, "shred", "run", "--case", "DPA-7", "--yes", "--sign-key", priv)
	att := filepath.Join(env.dir, "deletion.dsse.json")
	mustRun(t, env.srv, env.roles.admin, "shred", "run", "--case", "DPA-7", "--yes", "--sign-key", priv,
		"--vault-snapshot-retention", "720h", "-o", att)

	if _, err := os.Stat(b.Ciphertext.Path); !os.IsNotExist(err) {
		t.Fatal("ciphertext still there after shred")
	}
	r := expectCode(t, exitError, env.srv, env.roles.admin, "backup", "open", b.ID, "--purpose", "p", "-o", filepath.Join(env.dir, "x"))
	if !strings.Contains(r.stderr, "destroyed") {
		t.Fatalf("open after shred: %s", r.stderr)
	}
	blob := filepath.Join(env.dir, "blob.age")
	_ = os.WriteFile(blob, ciphertext, 0o600)
	v := mustRun(t, env.srv, "", "attest", "verify", att, "--key", pub, "--backup", blob)
	for _, check := range []string{"PASS  signature", "PASS  predicate-type", "PASS  subject-digest", "WARN", "VERIFIED"} {
		if !strings.Contains(v.stdout, check) {
			t.Errorf("verify output lacks %q:\n%s", check, v.stdout)
		}
	}
	html := filepath.Join(env.dir, "certificate.html")
	mustRun(t, env.srv, "", "attest", "show", att, "--key", pub, "--format", "html", "-o", html)
	if page, _ := os.ReadFile(html); !strings.Contains(string(page), "Cryptographic Erase") {
		t.Fatal("certificate lacks the method")
	}
	tampered := tamperPayload(t, att)
	bad := expectCode(t, exitVerifyKO, env.srv, "", "attest", "verify", tampered, "--key", pub)
	if !strings.Contains(bad.stdout, "FAIL  signature") {
		t.Fatalf("tampered verify: %s", bad.stdout)
	}
}

// tamperPayload flips one byte of the envelope's payload and writes it
// beside the original.
func tamperPayload(t *testing.T, path string) string {
	t.Helper()
	raw, _ := os.ReadFile(path)
	var env map[string]any
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatal(err)
	}
	p := []byte(env["payload"].(string))
	p[10] ^= 1
	if p[10] == '=' || p[10] == '+' {
		p[10] ^= 3
	}
	env["payload"] = string(p)
	out, _ := json.Marshal(env)
	bad := path + ".tampered"
	_ = os.WriteFile(bad, out, 0o600)
	return bad
}

func TestDisposeOriginalThenAttestationSaysSo(t *testing.T) {
	env := newTestEnv(t)
	b := closedCaseCLI(t, env, "DPA-8", []byte("old casework"))
	r := mustRun(t, env.srv, env.roles.admin, "backup", "dispose-original", b.ID, "--method", "deleted", "--note", "staging copy removed")
	if !strings.Contains(r.stdout, "as deleted") {
		t.Fatalf("dispose: %s", r.stdout)
	}
	if _, err := os.Stat(b.Original.Path); !os.IsNotExist(err) {
		t.Fatal("original still on disk")
	}
	expectCode(t, exitRefused, env.srv, env.roles.admin, "backup", "dispose-original", b.ID, "--method", "deleted", "--note", "again")
	expectCode(t, exitUsage, env.srv, env.roles.admin, "backup", "dispose-original", b.ID, "--method", "burnt", "--note", "n")
	priv, pub := signingKey(t, env)
	att := filepath.Join(env.dir, "a.json")
	mustRun(t, env.srv, env.roles.admin, "shred", "run", "--case", "DPA-8", "--yes", "--sign-key", priv, "--vault-snapshot-retention", "24h", "-o", att)
	v := mustRun(t, env.srv, "", "attest", "verify", att, "--key", pub)
	if strings.Contains(v.stdout, "WARN") {
		t.Fatalf("verify warns although the original was disposed of:\n%s", v.stdout)
	}
	show := mustRun(t, env.srv, "", "attest", "show", att, "--key", pub)
	if !strings.Contains(strings.ToLower(show.stdout), "deleted") {
		t.Fatalf("certificate lacks the disposal:\n%s", show.stdout)
	}
}

// TestShredRefusesBeforeDestroyingWhatItCouldNotAttest: no data controller
// on record stops case close before anything is released (a controller
// added then lets it close and shred), and a Vault signing key the token
// may not use stops the run before any key is destroyed.
func TestShredRefusesBeforeDestroyingWhatItCouldNotAttest(t *testing.T) {
	env := newTestEnv(t)
	b := protectFile(t, env, "x.tar", []byte("x"))
	// A case without a controller, as an older version could open it.
	if _, err := shredRoot(t, env).OpenCase(context.Background(), shred.Actor{DisplayName: "old"},
		catalog.Case{ID: "NOCTL", Authority: "A", Reference: "R"}); err != nil {
		t.Fatal(err)
	}
	mustRun(t, env.srv, env.roles.compliance, "hold", "place", "--case", "NOCTL", b.ID)
	r := expectCode(t, exitRefused, env.srv, env.roles.compliance, "case", "close", "NOCTL", "--decision-ref", "r", "--decision-file", decisionFile(t, env), "--yes")
	if !strings.Contains(firstLine(r.stderr), "no data controller is recorded for case NOCTL") {
		t.Fatalf("stderr: %s", r.stderr)
	}
	if _, key := backupAndKey(t, shredRoot(t, env), b); key == nil || key.DeletionAllowed {
		t.Fatalf("close without a controller released the key: %+v", key)
	}
	expectCode(t, exitRefused, env.srv, env.roles.admin, "case", "controller", "add", "NOCTL", "Example Ministry")
	mustRun(t, env.srv, env.roles.compliance, "case", "controller", "add", "NOCTL", "Example Ministry")
	mustRun(t, env.srv, env.roles.compliance, "case", "close", "NOCTL", "--decision-ref", "r", "--decision-file", decisionFile(t, env), "--yes")
	priv, _ := signingKey(t, env)
	mustRun(t, env.srv, env.roles.admin, "shred", "run", "--case", "NOCTL", "--yes", "--sign-key", priv, "--vault-snapshot-retention", "1h",
		"-o", filepath.Join(env.dir, "noctl.dsse.json"))
	c := closedCaseCLI(t, env, "VAULTKEY", []byte("y"))
	if _, err := env.srv.Root(t).Logical().Write("cryptoshred-transit/keys/attest-signer", map[string]any{"type": "ecdsa-p256"}); err != nil {
		t.Fatal(err)
	}
	r = expectCode(t, exitRefused, env.srv, env.roles.admin, "shred", "run", "--case", "VAULTKEY", "--yes",
		"--sign-key", "hashivault://attest-signer", "--vault-snapshot-retention", "1h")
	if !strings.Contains(r.stderr, "cannot sign") {
		t.Fatalf("stderr: %s", r.stderr)
	}
	root := shredRoot(t, env)
	for _, bk := range []*catalog.Backup{c} {
		if _, key := backupAndKey(t, root, bk); key == nil {
			t.Fatalf("%s lost its key although no attestation could be issued", bk.ID)
		}
	}
}

// TestShredRunRefusesAnExistingOutputFirst: an attestation file that could
// not be written afterwards stops the run before any key is destroyed.
func TestShredRunRefusesAnExistingOutputFirst(t *testing.T) {
	env := newTestEnv(t)
	b := closedCaseCLI(t, env, "DPA-O", []byte("old casework"))
	priv, _ := signingKey(t, env)
	att := filepath.Join(env.dir, "taken.dsse.json")
	if err := os.WriteFile(att, []byte("an earlier attestation"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := expectCode(t, exitError, env.srv, env.roles.admin, "shred", "run", "--case", "DPA-O", "--yes", "--sign-key", priv,
		"--vault-snapshot-retention", "24h", "-o", att)
	expectStderr(t, r, att+" already exists: refusing to overwrite it")
	show := mustRun(t, env.srv, env.roles.admin, "backup", "show", b.ID)
	if !strings.Contains(show.stdout, "in Vault, deletion allowed") {
		t.Fatalf("the key was touched:\n%s", show.stdout)
	}
}

// The JSON a script reads names each failure and each backup the
// attestation leaves out with its reason, not an empty error object.
func TestShredRunJSONSaysWhyItemsFailedOrWereLeftOut(t *testing.T) {
	res := &shred.RunResult{Case: "C",
		Failed:  []*shred.ItemError{{ID: "bk-1", Err: errors.New("vault is sealed")}},
		LeftOut: []*shred.ItemError{{ID: "bk-2", Err: errors.New("left out of the attestation: held by case(s) Q")}}}
	var stdout, stderr strings.Builder
	if err := renderRun(globalOptions{Format: "json"}, res, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Failed  []map[string]string `json:"failed"`
		LeftOut []map[string]string `json:"leftOutOfAttestation"`
	}
	if err := json.Unmarshal([]byte(stdout.String()), &got); err != nil {
		t.Fatal(err)
	}
	want := []map[string]string{{"id": "bk-1", "error": "vault is sealed"}}
	wantLeftOut := []map[string]string{{"id": "bk-2", "error": "left out of the attestation: held by case(s) Q"}}
	if !reflect.DeepEqual(got.Failed, want) || !reflect.DeepEqual(got.LeftOut, wantLeftOut) {
		t.Fatalf("json %s; want failed %v and left out %v", stdout.String(), want, wantLeftOut)
	}
}
