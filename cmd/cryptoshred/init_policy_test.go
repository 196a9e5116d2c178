package main

import (
	"os"
	"strings"
	"testing"

	"github.com/cryptoshred/cryptoshred/internal/vaulttest"
)

// TestProductionInitPolicyIsEnough runs init with a token holding only the
// cryptoshred-init policy as examples/vault/production.md prints it: on a
// fresh Vault, again (no change), and after an upgrade that left a backup
// without its system index entry and a copy of it without its shared
// mark. The same token may not disable a mount.
func TestProductionInitPolicyIsEnough(t *testing.T) {
	doc, err := os.ReadFile("../../examples/vault/production.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(doc), "# cryptoshred-init:")
	policy, _, ok := strings.Cut("#"+rest, "```")
	if !ok {
		t.Fatal("no cryptoshred-init policy block in production.md")
	}
	srv := vaulttest.Start(t)
	if err := srv.Root(t).Sys().PutPolicy("cryptoshred-init", policy); err != nil {
		t.Fatalf("the documented policy does not parse: %v", err)
	}
	operator := srv.TokenWithPolicies(t, "operator", "cryptoshred-init")
	mustRun(t, srv, operator, "init")
	if again := mustRun(t, srv, operator, "init"); !strings.Contains(again.stdout, "no change") {
		t.Fatalf("second init: %s", again.stdout)
	}
	env := testEnv{srv: srv, dir: t.TempDir(), roles: roles{admin: srv.TokenWithPolicies(t, "backup-admin", "cryptoshred-admin")}}
	b := protectFile(t, env, "a.tar", []byte("a"), "--system", "casework")
	protectFile(t, env, "copy-of-a.tar", []byte("a"), "--allow-duplicate")
	for _, path := range []string{"systems/casework/" + b.ID, "shared/" + b.Plaintext.SHA256, "indexes/shared"} {
		srv.KVDelete(t, "cryptoshred/metadata/"+path) // root: as a catalog from before them
	}
	up := mustRun(t, srv, operator, "init")
	if !strings.Contains(up.stdout, "added 2 catalog index entries") || !strings.Contains(up.stdout, "recorded that every shared plaintext digest is marked") {
		t.Fatalf("init after an upgrade: %s", up.stdout)
	}
	if _, err := srv.Client(t, operator).Logical().Delete("sys/mounts/cryptoshred"); err == nil {
		t.Fatal("the init token disabled the KV mount")
	}
}
