package vault_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/cryptoshred/cryptoshred/internal/vaulttest"
	"github.com/cryptoshred/cryptoshred/shred/audit"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

func TestInitIsIdempotent(t *testing.T) {
	srv := vaulttest.Start(t)
	v := vault.New(srv.Root(t), vault.DefaultMounts)
	ctx := context.Background()
	first, err := v.Init(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 11 {
		t.Fatalf("first init made %d changes, want 11: %v", len(first), first)
	}
	second, err := v.Init(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(second) != 0 {
		t.Fatalf("second init changed %v", second)
	}
}

// init makes the audit devices log the ledger entry header in clear, and
// puts it back when an operator turned HMAC on.
func TestInitRegistersAuditedLedgerHeader(t *testing.T) {
	srv := vaulttest.Start(t)
	root := srv.Root(t)
	v := vault.New(root, vault.DefaultMounts)
	ctx := context.Background()
	path := "sys/config/auditing/request-headers/" + audit.LedgerHeader
	if _, err := root.Logical().Write(path, map[string]any{"hmac": true}); err != nil {
		t.Fatal(err)
	}
	changes, err := v.Init(ctx)
	if err != nil || !strings.Contains(fmt.Sprint(changes), "X-Cryptoshred-Ledger-Entry (hmac=false)") {
		t.Fatalf("init: %v %v", changes, err)
	}
	sec, err := root.Logical().Read(path)
	if err != nil || sec == nil || strings.ToLower(fmt.Sprint(sec.Data)) != "map[x-cryptoshred-ledger-entry:map[hmac:false]]" {
		t.Fatalf("header config: %v %v", sec, err)
	}
}

func TestInitRefusesWrongMountType(t *testing.T) {
	srv := vaulttest.Start(t)
	root := srv.Root(t)
	if err := root.Sys().Mount("cryptoshred", &api.MountInput{Type: "kv", Options: map[string]string{"version": "1"}}); err != nil {
		t.Fatal(err)
	}
	_, err := vault.New(root, vault.DefaultMounts).Init(context.Background())
	if err == nil || !strings.Contains(err.Error(), "cryptoshred needs kv 2") {
		t.Fatalf("init over a kv v1 mount: %v", err)
	}
}

func TestInitDisablesUpsert(t *testing.T) {
	srv, _ := newLedger(t)
	_, err := srv.Root(t).Logical().Write("cryptoshred-transit/encrypt/bk-never-created", map[string]any{"plaintext": "AAAA"})
	if err == nil || !strings.Contains(err.Error(), "encryption key not found") {
		t.Fatalf("encrypt to a missing key: %v", err)
	}
}

// call is one request a role makes and whether Vault must allow it.
type call struct {
	name  string
	op    func(*api.Logical) error
	allow bool
}

func write(path string, data map[string]any) func(*api.Logical) error {
	return func(l *api.Logical) error { _, err := l.Write(path, data); return err }
}

func read(path string) func(*api.Logical) error {
	return func(l *api.Logical) error { _, err := l.Read(path); return err }
}

func del(path string) func(*api.Logical) error {
	return func(l *api.Logical) error { _, err := l.Delete(path); return err }
}

func kv(data map[string]any) map[string]any { return map[string]any{"data": data} }

const key = "cryptoshred-transit/keys/bk-policy-test"

func TestPolicies(t *testing.T) {
	srv, _ := newLedger(t)
	root := srv.Root(t).Logical()
	if _, err := root.Write(key, map[string]any{"type": "aes256-gcm96"}); err != nil {
		t.Fatal(err)
	}
	roles := map[string][]call{
		vault.PolicyAdmin: {
			{"create a key", write("cryptoshred-transit/keys/bk-new", map[string]any{"type": "aes256-gcm96"}), true},
			{"create an exportable key", write("cryptoshred-transit/keys/bk-exp", map[string]any{"type": "aes256-gcm96", "exportable": true}), false},
			{"create a key allowing plaintext backup", write("cryptoshred-transit/keys/bk-pb", map[string]any{"allow_plaintext_backup": true}), false},
			{"encrypt", write("cryptoshred-transit/encrypt/bk-policy-test", map[string]any{"plaintext": "AAAA"}), true},
			{"read key", read(key), true},
			{"unlatch deletion", write(key+"/config", map[string]any{"deletion_allowed": true}), false},
			{"rotate", write(key+"/rotate", nil), false},
			{"export", read("cryptoshred-transit/export/encryption-key/bk-policy-test"), false},
			{"backup a key", read("cryptoshred-transit/backup/bk-policy-test"), false},
			{"turn upsert back on", write("cryptoshred-transit/config/keys", map[string]any{"disable_upsert": false}), false},
			{"unmount transit", del("sys/mounts/cryptoshred-transit"), false},
			{"write a backup record", write("cryptoshred/data/backups/x", kv(map[string]any{"a": "b"})), true},
			{"place a hold", write("cryptoshred/data/holds/c/x", kv(map[string]any{"a": "b"})), false},
			{"open a case", write("cryptoshred/data/cases/c", kv(map[string]any{"a": "b"})), false},
			{"destroy ledger history", write("cryptoshred/destroy/ledger/0000000001", map[string]any{"versions": []int{1}}), false},
			{"change a policy", write("sys/policies/acl/cryptoshred-admin", map[string]any{"policy": `path "*" { capabilities = ["sudo"] }`}), false},
		},
		vault.PolicyCompliance: {
			{"unlatch deletion", write(key+"/config", map[string]any{"deletion_allowed": true}), true},
			{"latch deletion back", write(key+"/config", map[string]any{"deletion_allowed": false}), false},
			{"make exportable", write(key+"/config", map[string]any{"exportable": true}), false},
			{"set min decryption version", write(key+"/config", map[string]any{"min_decryption_version": 1}), false},
			{"delete key", del(key), false},
			{"encrypt", write("cryptoshred-transit/encrypt/bk-policy-test", map[string]any{"plaintext": "AAAA"}), false},
			{"decrypt", write("cryptoshred-transit/decrypt/bk-policy-test", map[string]any{"ciphertext": "vault:v1:AAAA"}), false},
			{"create a key", write("cryptoshred-transit/keys/bk-c", map[string]any{"type": "aes256-gcm96"}), false},
			{"open a case", write("cryptoshred/data/cases/c", kv(map[string]any{"a": "b"})), true},
			{"place a hold", write("cryptoshred/data/holds/c/x", kv(map[string]any{"a": "b"})), true},
		},
		vault.PolicyAuditor: {
			{"read key", read(key), true},
			{"read catalog", read("cryptoshred/data/backups/x"), true},
			{"encrypt", write("cryptoshred-transit/encrypt/bk-policy-test", map[string]any{"plaintext": "AAAA"}), false},
			{"decrypt", write("cryptoshred-transit/decrypt/bk-policy-test", map[string]any{"ciphertext": "vault:v1:AAAA"}), false},
			{"unlatch deletion", write(key+"/config", map[string]any{"deletion_allowed": true}), false},
			{"delete key", del(key), false},
			{"write catalog", write("cryptoshred/data/backups/x", kv(map[string]any{"a": "b"})), false},
			{"write ledger", write("cryptoshred/data/ledger/head", kv(map[string]any{"a": "b"})), false},
		},
	}
	for _, policy := range []string{vault.PolicyAdmin, vault.PolicyCompliance, vault.PolicyAuditor} {
		logical := srv.Client(t, srv.TokenWithPolicies(t, policy, policy)).Logical()
		for _, c := range roles[policy] {
			t.Run(policy+"/"+c.name, func(t *testing.T) {
				checkCall(t, logical, c)
			})
		}
	}
}

func checkCall(t *testing.T, l *api.Logical, c call) {
	err := c.op(l)
	denied := err != nil && strings.Contains(err.Error(), "permission denied")
	if c.allow && err != nil {
		t.Fatalf("want allowed, got %v", err)
	}
	if !c.allow && !denied {
		t.Fatalf("want permission denied, got %v", err)
	}
}

// TestAdminCannotDeleteLatchedKey is the guarantee behind holds: the admin
// may delete keys, but Vault refuses until compliance sets the latch.
func TestAdminCannotDeleteLatchedKey(t *testing.T) {
	srv, _ := newLedger(t)
	if _, err := srv.Root(t).Logical().Write(key, map[string]any{"type": "aes256-gcm96"}); err != nil {
		t.Fatal(err)
	}
	admin := srv.Client(t, srv.TokenWithPolicies(t, "admin", vault.PolicyAdmin)).Logical()
	if _, err := admin.Delete(key); err == nil || !strings.Contains(err.Error(), "deletion is not allowed for this key") {
		t.Fatalf("admin delete of a latched key: %v", err)
	}
	compliance := srv.Client(t, srv.TokenWithPolicies(t, "compliance", vault.PolicyCompliance)).Logical()
	if _, err := compliance.Write(key+"/config", map[string]any{"deletion_allowed": true}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Delete(key); err != nil {
		t.Fatalf("admin delete after release: %v", err)
	}
	if sec, err := admin.Read(key); err != nil || sec != nil {
		t.Fatalf("key still readable after delete: %v %v", sec, err)
	}
}
