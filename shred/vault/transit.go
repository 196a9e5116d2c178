package vault

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"syscall"

	"github.com/hashicorp/vault/api"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/audit"
	"github.com/cryptoshred/cryptoshred/shred/errs"
)

func (v *Client) keyPath(name string) string { return v.mounts.Transit + "/keys/" + name }

// CreateKey creates the per-backup key name: aes256-gcm96, not
// exportable, no plaintext backup, deletion not allowed. Vault answers an
// existing name without changing it; callers check first.
func (v *Client) CreateKey(ctx context.Context, name string) error {
	_, err := v.client.Logical().WriteWithContext(ctx, v.keyPath(name), map[string]any{"type": shred.KeyType})
	return vaultError("create key", v.keyPath(name), err)
}

// KeyInfo reads name's metadata. A missing key returns (nil, nil), but only
// after checking that the Transit mount itself exists, so a missing mount
// is never mistaken for a destroyed key.
func (v *Client) KeyInfo(ctx context.Context, name string) (*shred.KeyInfo, error) {
	sec, err := v.client.Logical().ReadWithContext(ctx, v.keyPath(name))
	if err != nil {
		return nil, vaultError("read key", v.keyPath(name), err)
	}
	if sec == nil {
		return nil, v.CheckMount(ctx)
	}
	return parseKeyInfo(name, sec.Data)
}

func parseKeyInfo(name string, d map[string]any) (*shred.KeyInfo, error) {
	info := &shred.KeyInfo{Name: name}
	info.Type, _ = d["type"].(string)
	info.Exportable, _ = d["exportable"].(bool)
	info.AllowPlaintextBackup, _ = d["allow_plaintext_backup"].(bool)
	info.DeletionAllowed, _ = d["deletion_allowed"].(bool)
	keys, _ := d["keys"].(map[string]any)
	for k := range keys {
		var n int
		if _, err := fmt.Sscan(k, &n); err != nil {
			return nil, fmt.Errorf("malformed key version %q for %s", k, name)
		}
		info.Versions = append(info.Versions, n)
	}
	slices.Sort(info.Versions)
	return info, nil
}

// CheckMount returns an error unless the Transit mount exists and refuses
// to create keys on encrypt (disable_upsert).
func (v *Client) CheckMount(ctx context.Context) error {
	path := v.mounts.Transit + "/config/keys"
	sec, err := v.client.Logical().ReadWithContext(ctx, path)
	if err != nil {
		return vaultError("read", path, err)
	}
	if sec == nil {
		return fmt.Errorf("transit mount %s/ does not exist: run `cryptoshred init` or check --transit-mount", v.mounts.Transit)
	}
	if sec.Data["disable_upsert"] != true {
		return fmt.Errorf("transit mount %s/ does not have disable_upsert=true: run `cryptoshred init`", v.mounts.Transit)
	}
	return nil
}

// WrapKey encrypts fileKey with the Transit key name and returns Vault's
// ciphertext ("vault:vN:...").
func (v *Client) WrapKey(ctx context.Context, name string, fileKey []byte) (string, error) {
	path := v.mounts.Transit + "/encrypt/" + name
	sec, err := v.client.Logical().WriteWithContext(ctx, path, map[string]any{
		"plaintext": base64.StdEncoding.EncodeToString(fileKey),
	})
	if err != nil {
		return "", v.keyUseError(ctx, "encrypt with", name, err)
	}
	ct, _ := sec.Data["ciphertext"].(string)
	if !strings.HasPrefix(ct, "vault:v") {
		return "", fmt.Errorf("vault returned no ciphertext for key %s", name)
	}
	return ct, nil
}

// UnwrapKey decrypts a file key wrapped by WrapKey. If the key is gone it
// returns an error wrapping errs.ErrKeyDestroyed. The ledger entry hash
// in ctx (audit.WithLedgerEntry), if any, is sent in the audited
// audit.LedgerHeader, so Vault's audit log names the entry. The decrypt is
// not sent again after a failure Vault may have answered (sentOnceOnly):
// the caller opens again, under a new ledger entry.
func (v *Client) UnwrapKey(ctx context.Context, name, ciphertext string) ([]byte, error) {
	path := v.mounts.Transit + "/decrypt/" + name
	sec, err := v.withLedgerHeader(ctx).Logical().WriteWithContext(sentOnceOnly(ctx), path, map[string]any{"ciphertext": ciphertext})
	if err != nil {
		return nil, unwrapError(err, v.keyUseError(ctx, "decrypt with", name, err))
	}
	pt, _ := sec.Data["plaintext"].(string)
	key, err := base64.StdEncoding.DecodeString(pt)
	if err != nil {
		return nil, fmt.Errorf("vault returned a malformed plaintext for key %s", name)
	}
	return key, nil
}

// unwrapError is explained, the failure of a decrypt that sent, adding
// why it was not sent again when Vault may have carried it out (not after
// a refused connection, a 429 or a sealed Vault).
func unwrapError(sent, explained error) error {
	sealed := isStatus(sent, http.StatusServiceUnavailable) && strings.Contains(explained.Error(), "sealed")
	notCarriedOut := errors.Is(sent, syscall.ECONNREFUSED) || isStatus(sent, http.StatusTooManyRequests) || sealed
	if !errors.Is(explained, errs.ErrUnavailable) || notCarriedOut {
		return explained
	}
	return fmt.Errorf("%w (the unwrap was not sent again, as Vault may have carried it out: ask again once Vault answers)", explained)
}

// withLedgerHeader returns the client to send a request with: one that
// adds the ledger entry header when ctx carries an entry.
func (v *Client) withLedgerHeader(ctx context.Context) *api.Client {
	entry := audit.LedgerEntry(ctx)
	if entry == "" {
		return v.client
	}
	return v.client.WithRequestCallbacks(func(r *api.Request) { r.Headers.Set(audit.LedgerHeader, entry) })
}

// keyUseError explains a failed encrypt or decrypt: a destroyed key is
// reported as such, once Vault confirms the key is gone and the mount is not.
func (v *Client) keyUseError(ctx context.Context, op, name string, err error) error {
	if !isStatus(err, http.StatusBadRequest) {
		return vaultError(op+" key", name, err)
	}
	info, ierr := v.KeyInfo(ctx, name)
	if ierr == nil && info == nil {
		return fmt.Errorf("key %s: %w", name, errs.ErrKeyDestroyed)
	}
	return vaultError(op+" key", name, err)
}

// AllowDeletion sets deletion_allowed=true on name. Only the compliance
// role's policy permits it.
func (v *Client) AllowDeletion(ctx context.Context, name string) error {
	path := v.keyPath(name) + "/config"
	_, err := v.client.Logical().WriteWithContext(ctx, path, map[string]any{"deletion_allowed": true})
	return vaultError("allow deletion of key", name, err)
}

// DeleteKey deletes name from Vault. Vault refuses while deletion_allowed
// is false; that refusal is returned as a RefusedError. A key that is
// already gone is not an error.
func (v *Client) DeleteKey(ctx context.Context, name string) error {
	_, err := v.client.Logical().DeleteWithContext(ctx, v.keyPath(name))
	if err == nil {
		return nil
	}
	if isStatus(err, http.StatusBadRequest) && strings.Contains(err.Error(), "deletion is not allowed") {
		return errs.Refusedf("vault refused to delete key %s: deletion is not allowed for this key (it is held or was never released)", name)
	}
	if isStatus(err, http.StatusBadRequest) {
		if info, ierr := v.KeyInfo(ctx, name); ierr == nil && info == nil {
			return nil
		}
	}
	return vaultError("delete key", name, err)
}

// KeyAbsent reads name back and reports whether Vault answers that it does
// not exist. It does not check the mount: callers confirm the mount with
// CheckMount, so a missing mount is never taken for a destroyed key.
func (v *Client) KeyAbsent(ctx context.Context, name string) (bool, error) {
	sec, err := v.client.Logical().ReadWithContext(ctx, v.keyPath(name))
	if err != nil {
		return false, vaultError("read key", name, err)
	}
	return sec == nil, nil
}

// Describe says which key store this is, for the attestation.
func (v *Client) Describe(ctx context.Context) (attest.KeyStore, error) {
	h, err := v.client.Sys().HealthWithContext(ctx)
	if err != nil {
		return attest.KeyStore{}, vaultError("read", "sys/health", err)
	}
	return attest.KeyStore{Kind: "vault", Address: v.Address(), TransitMount: v.mounts.Transit, Version: h.Version}, nil
}
