package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/cryptoshred/cryptoshred/shred/agefile"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// ageFileFor writes an age file encrypted in-process to recipients.
func ageFileFor(t *testing.T, env testEnv, name string, recipients ...age.Recipient) string {
	t.Helper()
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, recipients...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("tar stream of " + name)); err != nil || w.Close() != nil {
		t.Fatalf("encrypt: %v", err)
	}
	path := filepath.Join(env.dir, name)
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestBackupRegisterOutputsAndExitCodes(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	v := vault.New(env.srv.Client(t, env.roles.admin), vault.DefaultMounts)
	good := ageFileFor(t, env, "good.age", agefile.NewRecipient(ctx, v, adminKey(t, env)))
	x, _ := age.GenerateX25519Identity()
	leaky := ageFileFor(t, env, "leaky.age", agefile.NewRecipient(ctx, v, adminKey(t, env)), x.Recipient())

	expectCode(t, exitUsage, env.srv, env.roles.admin, "backup", "register")
	expectCode(t, exitUsage, env.srv, env.roles.admin, "backup", "register", good, "--category", "shoe-size")
	expectCode(t, exitUsage, env.srv, env.roles.admin, "backup", "register", good, "--label", "novalue")
	r := expectCode(t, exitRefused, env.srv, env.roles.admin, "backup", "register", leaky)
	if !strings.Contains(r.stderr, `"X25519" recipient stanza`) {
		t.Fatalf("leaky: %s", r.stderr)
	}
	expectCode(t, exitRefused, env.srv, env.roles.auditor, "backup", "register", good)
	expectCode(t, exitError, env.srv, env.roles.admin, "backup", "register", filepath.Join(env.dir, "missing.age"))

	r = expectCode(t, exitPartial, env.srv, env.roles.admin, "backup", "register", good, leaky, "--system", "casework")
	if !strings.Contains(r.stdout, "registered "+good+" as bk-") || !strings.Contains(r.stdout, "dispose-original") {
		t.Fatalf("partial register: %s", r.stdout)
	}
	list := mustRun(t, env.srv, env.roles.auditor, "backup", "list", "--system", "casework")
	if !strings.Contains(list.stdout, "good.age") || strings.Contains(list.stdout, "leaky.age") {
		t.Fatalf("list: %s", list.stdout)
	}
}
