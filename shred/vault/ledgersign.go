package vault

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"strconv"

	"github.com/hashicorp/vault/api"

	"github.com/cryptoshred/cryptoshred/shred/errs"
	"github.com/cryptoshred/cryptoshred/shred/ledger"
)

// LedgerKeyName is the Transit key a role signs its ledger entries with.
func LedgerKeyName(role string) string { return "ledger-" + role }

// Sign implements ledger.Signer: Transit signs msg with role's ed25519
// key, which the role's policy alone may use.
func (v *Client) Sign(ctx context.Context, role string, msg []byte) (string, error) {
	path := v.mounts.Ledger + "/sign/" + LedgerKeyName(role)
	sec, err := v.client.Logical().WriteWithContext(ctx, path, map[string]any{"input": base64.StdEncoding.EncodeToString(msg)})
	if err != nil {
		return "", vaultError("sign with", path, err)
	}
	sig, _ := sec.Data["signature"].(string)
	if sig == "" {
		return "", fmt.Errorf("vault returned no signature from %s", path)
	}
	return sig, nil
}

// PublicKeys implements ledger.Signer: every version of each role's
// public key, as Transit publishes it.
func (v *Client) PublicKeys(ctx context.Context) (ledger.PublicKeys, error) {
	out := ledger.PublicKeys{}
	for _, role := range ledger.Roles {
		keys, err := v.publicKeys(ctx, LedgerKeyName(role))
		if err != nil {
			return nil, err
		}
		out[role] = keys
	}
	return out, nil
}

func (v *Client) publicKeys(ctx context.Context, name string) (map[int]ed25519.PublicKey, error) {
	path := v.mounts.Ledger + "/keys/" + name
	sec, err := v.client.Logical().ReadWithContext(ctx, path)
	if err != nil {
		return nil, vaultError("read", path, err)
	}
	if sec == nil {
		return nil, fmt.Errorf("%w: the ledger signing key %s does not exist: run `cryptoshred init`", errs.ErrNotFound, path)
	}
	versions, _ := sec.Data["keys"].(map[string]any)
	out := map[int]ed25519.PublicKey{}
	for ver, data := range versions {
		n, err := strconv.Atoi(ver)
		m, _ := data.(map[string]any)
		pub, _ := m["public_key"].(string)
		raw, derr := base64.StdEncoding.DecodeString(pub)
		if err != nil || derr != nil || len(raw) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%s: malformed public key version %q", path, ver)
		}
		out[n] = ed25519.PublicKey(raw)
	}
	return out, nil
}

func (v *Client) ensureLedgerMount(ctx context.Context) (string, error) {
	return v.ensureMount(ctx, v.mounts.Ledger, &api.MountInput{
		Type:        "transit",
		Description: "cryptoshred: one ledger signing key per role",
	})
}

// ensureLedgerKey creates role's ed25519 signing key: never exportable,
// deletion not allowed. An existing key of another type is refused.
func (v *Client) ensureLedgerKey(role string) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		path := v.mounts.Ledger + "/keys/" + LedgerKeyName(role)
		sec, err := v.client.Logical().ReadWithContext(ctx, path)
		if err != nil {
			return "", vaultError("read", path, err)
		}
		if sec != nil {
			if sec.Data["type"] != "ed25519" || sec.Data["exportable"] == true {
				return "", errs.Refusedf("%s exists but is not a non-exportable ed25519 key", path)
			}
			return "", nil
		}
		if _, err := v.client.Logical().WriteWithContext(ctx, path, map[string]any{"type": "ed25519"}); err != nil {
			return "", vaultError("create key", path, err)
		}
		return "created the ledger signing key " + path, nil
	}
}
