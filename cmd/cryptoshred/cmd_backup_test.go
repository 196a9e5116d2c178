package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cryptoshred/cryptoshred/shred/catalog"
)

// protectFile protects a file with the admin token and returns its entry.
func protectFile(t *testing.T, env testEnv, name string, data []byte, extra ...string) *catalog.Backup {
	t.Helper()
	src := filepath.Join(env.dir, name)
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--format", "json", "backup", "protect", src, "--out", env.dir}, extra...)
	r := mustRun(t, env.srv, env.roles.admin, args...)
	var out []*catalog.Backup
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out) != 1 {
		t.Fatalf("protect output %q: %v", r.stdout, err)
	}
	return out[0]
}

func TestProtectListShowOpen(t *testing.T) {
	env := newTestEnv(t)
	data := bytes.Repeat([]byte("case 2019-0042;Jane Doe;health\n"), 5000)
	b := protectFile(t, env, "casework.csv", data, "--system", "casework", "--category", "health", "--label", "site=dc1")
	list := mustRun(t, env.srv, env.roles.auditor, "backup", "list", "--system", "casework")
	if !strings.Contains(list.stdout, b.ID) || !strings.Contains(list.stdout, "protected") {
		t.Fatalf("list: %s", list.stdout)
	}
	show := mustRun(t, env.srv, env.roles.auditor, "backup", "show", b.ID)
	if !strings.Contains(show.stdout, b.Ciphertext.SHA256) || !strings.Contains(show.stdout, "deletion not allowed") {
		t.Fatalf("show: %s", show.stdout)
	}
	out := filepath.Join(env.dir, "restored.csv")
	mustRun(t, env.srv, env.roles.admin, "backup", "open", b.ID, "--purpose", "subject access request 17", "-o", out)
	got, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("restored file differs: %v", err)
	}
	if st, _ := os.Stat(out); st.Mode().Perm() != 0o600 {
		t.Fatalf("restored file mode %v", st.Mode().Perm())
	}
}

func TestOpenOfTamperedFileLeavesNoOutput(t *testing.T) {
	env := newTestEnv(t)
	b := protectFile(t, env, "f", bytes.Repeat([]byte{1}, 100000))
	ct, _ := os.ReadFile(b.Ciphertext.Path)
	ct[len(ct)-5] ^= 0x80
	if err := os.WriteFile(b.Ciphertext.Path, ct, 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(env.dir, "restored")
	r := expectCode(t, exitError, env.srv, env.roles.admin, "backup", "open", b.ID, "--purpose", "p", "-o", out)
	if !strings.Contains(r.stderr, "failed to decrypt") {
		t.Fatalf("stderr: %s", r.stderr)
	}
	if entries, _ := filepath.Glob(filepath.Join(env.dir, "*restored*")); len(entries) != 0 {
		t.Fatalf("output left behind: %v", entries)
	}
}

func TestAuditorCannotProtectOrOpen(t *testing.T) {
	env := newTestEnv(t)
	b := protectFile(t, env, "f", []byte("x"))
	src := filepath.Join(env.dir, "g")
	_ = os.WriteFile(src, []byte("y"), 0o600)
	r := expectCode(t, exitRefused, env.srv, env.roles.auditor, "backup", "protect", src, "--out", env.dir)
	if !strings.Contains(r.stderr, "lacks the \"create\" capability") {
		t.Fatalf("stderr: %s", r.stderr)
	}
	expectCode(t, exitRefused, env.srv, env.roles.auditor, "backup", "open", b.ID, "--purpose", "p", "-o", filepath.Join(env.dir, "o"))
}

func TestProtectToMissingDirectoryAndBadTokenChangeNothing(t *testing.T) {
	env := newTestEnv(t)
	src := filepath.Join(env.dir, "f.tar")
	_ = os.WriteFile(src, []byte("x"), 0o600)
	r := expectCode(t, exitError, env.srv, env.roles.admin, "backup", "protect", src, "--out", filepath.Join(env.dir, "missing"))
	if !strings.Contains(r.stderr, "does not exist") {
		t.Fatalf("stderr: %s", r.stderr)
	}
	r = expectCode(t, exitRefused, env.srv, "not-a-token", "backup", "list")
	if !strings.Contains(r.stderr, "invalid, expired or revoked") {
		t.Fatalf("stderr: %s", r.stderr)
	}
	if list := mustRun(t, env.srv, env.roles.auditor, "--format", "json", "backup", "list"); strings.TrimSpace(list.stdout) != "[]" {
		t.Fatalf("catalog after refused protects: %s", list.stdout)
	}
}
