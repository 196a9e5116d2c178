package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTokenWithoutTheNeededPolicy runs each state-changing command with a
// token of the wrong role: exit 4, a message naming the missing capability,
// no raw HTTP dump, and nothing changed.
func TestTokenWithoutTheNeededPolicy(t *testing.T) {
	env := newTestEnv(t)
	b := closedCaseCLI(t, env, "CAP", []byte("x"))
	mustRun(t, env.srv, env.roles.compliance, "case", "open", "CAP2", "--authority", "A", "--reference", "R", "--controller", "Example Ministry")
	priv, _ := signingKey(t, env)
	src := filepath.Join(env.dir, "new.tar")
	_ = os.WriteFile(src, []byte("y"), 0o600)
	doc := decisionFile(t, env)
	before := mustRun(t, env.srv, env.roles.auditor, "ledger", "verify").stdout
	cases := []struct {
		token string
		args  []string
	}{
		{env.roles.auditor, []string{"backup", "protect", src, "--out", env.dir}},
		{env.roles.compliance, []string{"backup", "protect", src, "--out", env.dir}},
		{env.roles.auditor, []string{"backup", "open", b.ID, "--purpose", "p", "-o", filepath.Join(env.dir, "o")}},
		{env.roles.compliance, []string{"backup", "open", b.ID, "--purpose", "p", "-o", filepath.Join(env.dir, "o")}},
		{env.roles.auditor, []string{"backup", "dispose-original", b.ID, "--method", "not-ours", "--note", "n"}},
		{env.roles.auditor, []string{"case", "open", "X", "--authority", "A", "--reference", "R", "--controller", "Example Ministry"}},
		{env.roles.admin, []string{"case", "open", "X", "--authority", "A", "--reference", "R", "--controller", "Example Ministry"}},
		{env.roles.admin, []string{"hold", "place", "--case", "CAP2", b.ID}},
		{env.roles.auditor, []string{"hold", "place", "--case", "CAP2", b.ID}},
		{env.roles.admin, []string{"case", "close", "CAP2", "--decision-ref", "r", "--decision-file", doc, "--yes"}},
		{env.roles.auditor, []string{"shred", "run", "--case", "CAP", "--yes", "--sign-key", priv, "--vault-snapshot-retention", "1h"}},
		{env.roles.compliance, []string{"shred", "run", "--case", "CAP", "--yes", "--sign-key", priv, "--vault-snapshot-retention", "1h"}},
		{env.roles.admin, []string{"init"}},
	}
	for _, c := range cases {
		r := runCLI(t, env.srv, c.token, c.args...)
		if r.code != exitRefused || !strings.Contains(r.stderr, "lack") || strings.Contains(r.stderr, "URL: ") || strings.Contains(r.stderr, "goroutine") {
			t.Errorf("%v: exit %d, stderr:\n%s", c.args, r.code, r.stderr)
		}
	}
	if after := mustRun(t, env.srv, env.roles.auditor, "ledger", "verify").stdout; after != before {
		t.Fatalf("refused commands changed the ledger:\n%s\n%s", before, after)
	}
	assertBackupState(t, shredRoot(t, env), b.ID, "released")
}
