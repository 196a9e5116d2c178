package vault

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/cryptoshred/cryptoshred/shred/audit"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/errs"
	"github.com/cryptoshred/cryptoshred/shred/ledger"
)

// policies holds admin.hcl, compliance.hcl, auditor.hcl and the
// token-self.hcl appended to each, written for the default mount names.
//
//go:embed policy/*.hcl
var policies embed.FS

// Policy names installed by Init.
const (
	PolicyAdmin      = "cryptoshred-admin"
	PolicyCompliance = "cryptoshred-compliance"
	PolicyAuditor    = "cryptoshred-auditor"
)

// Change is one thing Init did to Vault.
type Change struct {
	What string `json:"what"`
}

// Init makes Vault ready for cryptoshred: the Transit mount with
// disable_upsert, the KV v2 mount, the three policies, and the audited
// request header that lets an audit log line name the ledger entry of an
// open (audit.LedgerHeader, logged in clear), and the catalog index
// entries a catalog from an older version lacks. It changes only what
// differs, so a second run returns no changes. It needs a token that may
// manage mounts, policies and sys/config/auditing and read every
// registration (a Vault operator's).
func (v *Client) Init(ctx context.Context) ([]Change, error) {
	var changes []Change
	steps := []func(context.Context) (string, error){
		v.ensureTransitMount, v.ensureKVMount, v.ensureNoUpsert, v.ensureAuditHeader,
		v.ensureLedgerMount, v.ensureLedgerKey(ledger.RoleAdmin), v.ensureLedgerKey(ledger.RoleCompliance),
	}
	for _, step := range steps {
		what, err := step(ctx)
		if err != nil {
			return changes, err
		}
		if what != "" {
			changes = append(changes, Change{What: what})
		}
	}
	pc, err := v.ensurePolicies(ctx)
	changes = append(changes, pc...)
	if err != nil {
		return changes, err
	}
	ic, err := v.ensureIndexes(ctx)
	return append(changes, ic...), err
}

func (v *Client) ensureTransitMount(ctx context.Context) (string, error) {
	return v.ensureMount(ctx, v.mounts.Transit, &api.MountInput{
		Type:        "transit",
		Description: "cryptoshred: one key per backup",
	})
}

func (v *Client) ensureKVMount(ctx context.Context) (string, error) {
	what, err := v.ensureMount(ctx, v.mounts.KV, &api.MountInput{
		Type:        "kv",
		Description: "cryptoshred: catalog, cases, holds, ledger, attestations",
		Options:     map[string]string{"version": "2"},
	})
	if err != nil || what == "" {
		return what, err
	}
	return what, v.waitKVReady(ctx)
}

func (v *Client) ensureMount(ctx context.Context, path string, in *api.MountInput) (string, error) {
	mounts, err := v.client.Sys().ListMountsWithContext(ctx)
	if err != nil {
		return "", vaultError("list", "sys/mounts", err)
	}
	if m, ok := mounts[path+"/"]; ok {
		return "", checkMountType(path, m, in)
	}
	if err := v.client.Sys().MountWithContext(ctx, path, in); err != nil {
		return "", vaultError("enable", "sys/mounts/"+path, err)
	}
	return fmt.Sprintf("enabled %s engine at %s/", in.Type, path), nil
}

func checkMountType(path string, m *api.MountOutput, want *api.MountInput) error {
	if m.Type != want.Type || (want.Options["version"] != "" && m.Options["version"] != want.Options["version"]) {
		return errs.Refusedf("mount %s/ exists with type %s (version %q); cryptoshred needs %s %s",
			path, m.Type, m.Options["version"], want.Type, want.Options["version"])
	}
	return nil
}

// ensureIndexes adds the catalog index entries and shared marks of any
// registration an older version left without them, then records, once,
// that the shared marks are complete: last, so that an init interrupted
// before leaves plans looking up every digest.
func (v *Client) ensureIndexes(ctx context.Context) ([]Change, error) {
	cat := catalog.New(v)
	added, err := cat.IndexRegistrations(ctx)
	var changes []Change
	if added > 0 {
		changes = append(changes, Change{What: fmt.Sprintf("added %d catalog index entries (by system, plaintext size and digest, and marks of shared digests)", added)})
	}
	if err != nil {
		return changes, fmt.Errorf("failed to index the registrations: %w", err)
	}
	completed, err := cat.CompleteSharedMarks(ctx)
	if completed {
		changes = append(changes, Change{What: "recorded that every shared plaintext digest is marked (plans and attestations read the marks instead of every digest)"})
	}
	return changes, err
}

// waitKVReady waits for a fresh KV v2 mount to finish its upgrade, during
// which writes fail.
func (v *Client) waitKVReady(ctx context.Context) error {
	for range 100 {
		if _, err := v.client.Logical().ReadWithContext(ctx, v.mounts.KV+"/config"); err == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("kv mount %s/ did not become ready", v.mounts.KV)
}

func (v *Client) ensureNoUpsert(ctx context.Context) (string, error) {
	path := v.mounts.Transit + "/config/keys"
	sec, err := v.client.Logical().ReadWithContext(ctx, path)
	if err != nil {
		return "", vaultError("read", path, err)
	}
	if sec != nil && sec.Data["disable_upsert"] == true {
		return "", nil
	}
	if _, err := v.client.Logical().WriteWithContext(ctx, path, map[string]any{"disable_upsert": true}); err != nil {
		return "", vaultError("write", path, err)
	}
	return "set disable_upsert=true on " + path, nil
}

// auditHeadersPath is where Vault keeps the request headers its audit
// devices log.
const auditHeadersPath = "sys/config/auditing/request-headers"

// ensureAuditHeader makes Vault's audit devices log audit.LedgerHeader
// without HMAC: the value is a ledger entry's hash, no secret, and an
// auditor must read it to match the unwrap with the entry.
func (v *Client) ensureAuditHeader(ctx context.Context) (string, error) {
	sec, err := v.client.Logical().ReadWithContext(ctx, auditHeadersPath)
	if err != nil {
		return "", vaultError("read", auditHeadersPath, err)
	}
	if auditHeaderInClear(sec) {
		return "", nil
	}
	path := auditHeadersPath + "/" + audit.LedgerHeader
	if _, err := v.client.Logical().WriteWithContext(ctx, path, map[string]any{"hmac": false}); err != nil {
		return "", vaultError("write", path, err)
	}
	return "registered audited request header " + audit.LedgerHeader + " (hmac=false)", nil
}

// auditHeaderInClear reports whether Vault's list of audited headers has
// audit.LedgerHeader with hmac=false; Vault lists names in lower case.
func auditHeaderInClear(sec *api.Secret) bool {
	if sec == nil {
		return false
	}
	headers, _ := sec.Data["headers"].(map[string]any)
	for name, cfg := range headers {
		c, _ := cfg.(map[string]any)
		if strings.EqualFold(name, audit.LedgerHeader) && c["hmac"] == false {
			return true
		}
	}
	return false
}

func (v *Client) ensurePolicies(ctx context.Context) ([]Change, error) {
	policies, err := v.Policies()
	if err != nil {
		return nil, err
	}
	var changes []Change
	for _, name := range sortedKeys(policies) {
		changed, err := v.ensurePolicy(ctx, name, policies[name])
		if err != nil {
			return changes, err
		}
		if changed {
			changes = append(changes, Change{What: "wrote policy " + name})
		}
	}
	return changes, nil
}

func (v *Client) ensurePolicy(ctx context.Context, name, text string) (bool, error) {
	current, err := v.client.Sys().GetPolicyWithContext(ctx, name)
	if err != nil {
		return false, vaultError("read", "sys/policies/acl/"+name, err)
	}
	if current == text {
		return false, nil
	}
	if err := v.client.Sys().PutPolicyWithContext(ctx, name, text); err != nil {
		return false, vaultError("write", "sys/policies/acl/"+name, err)
	}
	return true, nil
}

// Policies returns the three policies, by name, rewritten for the mounts in
// use, each with token-self.hcl appended (the same for every role).
func (v *Client) Policies() (map[string]string, error) {
	files := map[string]string{
		PolicyAdmin: "admin.hcl", PolicyCompliance: "compliance.hcl", PolicyAuditor: "auditor.hcl",
	}
	self, err := fs.ReadFile(policies, "policy/token-self.hcl")
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(files))
	for name, file := range files {
		b, err := fs.ReadFile(policies, "policy/"+file)
		if err != nil {
			return nil, err
		}
		out[name] = v.rewriteMounts(string(b) + "\n" + string(self))
	}
	return out, nil
}

func (v *Client) rewriteMounts(policy string) string {
	r := strings.NewReplacer(
		`"`+DefaultMounts.Transit+`/`, `"`+v.mounts.Transit+`/`,
		`"`+DefaultMounts.Transit+`"`, `"`+v.mounts.Transit+`"`,
		`"`+DefaultMounts.KV+`/`, `"`+v.mounts.KV+`/`,
		`"`+DefaultMounts.Ledger+`/`, `"`+v.mounts.Ledger+`/`,
	)
	return r.Replace(policy)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
