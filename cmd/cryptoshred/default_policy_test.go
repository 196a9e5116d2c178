package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cryptoshred/cryptoshred/shred/vault"
)

const defaultPolicyNote = "note: the Vault token carries the default policy"

// TestBulkCommandsNoteTheDefaultPolicy checks that a batch protect and a
// shred run with a token carrying Vault's default policy say what it
// costs, and that the role tokens of examples/vault/production.md, made
// without it, hear nothing.
func TestBulkCommandsNoteTheDefaultPolicy(t *testing.T) {
	env := newTestEnv(t)
	withDefault := env.srv.TokenWithDefaultPolicy(t, "backup-admin", vault.PolicyAdmin)
	var files []string
	for _, name := range []string{"a.tar", "b.tar", "c.tar", "d.tar"} {
		files = append(files, filepath.Join(env.dir, name))
		if err := os.WriteFile(files[len(files)-1], []byte("backup "+name), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	protect := func(token string, files ...string) string {
		return mustRun(t, env.srv, token, append([]string{"backup", "protect", "--out", env.dir}, files...)...).stderr
	}
	if out := protect(withDefault, files[:2]...); !strings.Contains(out, defaultPolicyNote) {
		t.Errorf("batch protect with the default policy: no note in %q", out)
	}
	if out := protect(env.roles.admin, files[2:]...); strings.Contains(out, defaultPolicyNote) {
		t.Errorf("batch protect without the default policy: %q", out)
	}
	priv, _ := signingKey(t, env)
	for token, noted := range map[string]bool{withDefault: true, env.roles.admin: false} {
		caseID := map[bool]string{true: "DPA-DEF", false: "DPA-NODEF"}[noted]
		b := closedCaseCLI(t, env, caseID, []byte("casework of "+caseID))
		run := mustRun(t, env.srv, token, "shred", "run", "--case", caseID, "--yes", "--sign-key", priv,
			"--vault-snapshot-retention", "720h", "-o", filepath.Join(env.dir, caseID+".dsse.json"))
		if strings.Contains(run.stderr, defaultPolicyNote) != noted || !strings.Contains(run.stdout, "destroyed "+b.ID) {
			t.Errorf("shred run, note expected %t: %q %q", noted, run.stdout, run.stderr)
		}
	}
}
