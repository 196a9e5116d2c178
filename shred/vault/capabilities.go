package vault

import (
	"context"
	"slices"
	"strings"

	"github.com/cryptoshred/cryptoshred/shred/errs"
)

// preflightKey is a key name used only to ask Vault what the token may do
// on per-backup key paths; policies match it like any backup's key.
const preflightKey = "bk-preflight"

// require checks, before anything changes, that the token has caps on
// path, and names what is missing otherwise. Vault still enforces every
// request; this only turns a half-done operation into a clear refusal.
func (v *Client) require(ctx context.Context, role, path string, caps ...string) error {
	have, err := v.client.Sys().CapabilitiesSelfWithContext(ctx, path)
	if err != nil {
		return vaultError("check capabilities on", path, err)
	}
	if slices.Contains(have, "root") {
		return nil
	}
	for _, c := range caps {
		if !slices.Contains(have, c) {
			return errs.Refusedf("this needs a token with the %s policy as this version's `cryptoshred init` writes it: the Vault token lacks the %q capability on %s (it has: %s)",
				role, c, policyPath(path), strings.Join(have, ", "))
		}
	}
	return nil
}

// policyPath shows a path asked about with the preflight names as the
// policy pattern they stand for ("holds/*", "keys/*/config").
func policyPath(path string) string {
	return strings.ReplaceAll(strings.ReplaceAll(path, "preflight/"+preflightKey, "*"), preflightKey, "*")
}

// RequireAdmin checks the capabilities protect and shred need. The shred
// runs' destruction records are the newest path, so a policy an older
// init wrote is refused here, before anything is written.
func (v *Client) RequireAdmin(ctx context.Context, keyCaps ...string) error {
	if err := v.require(ctx, PolicyAdmin, v.kvData("backups/"+preflightKey), "create", "update"); err != nil {
		return err
	}
	for _, dir := range []string{"intents", "destructions"} {
		if err := v.require(ctx, PolicyAdmin, v.kvData(dir+"/preflight/"+preflightKey), "create"); err != nil {
			return err
		}
	}
	return v.require(ctx, PolicyAdmin, v.keyPath(preflightKey), keyCaps...)
}

// RequireCompliance checks the capabilities holds and case close need.
func (v *Client) RequireCompliance(ctx context.Context) error {
	if err := v.require(ctx, PolicyCompliance, v.kvData("holds/preflight/"+preflightKey), "create", "update"); err != nil {
		return err
	}
	return v.require(ctx, PolicyCompliance, v.keyPath(preflightKey)+"/config", "update")
}

// RequireDecrypt checks that the token may unwrap file keys with key.
func (v *Client) RequireDecrypt(ctx context.Context, key string) error {
	return v.require(ctx, PolicyAdmin, v.mounts.Transit+"/decrypt/"+key, "update")
}
