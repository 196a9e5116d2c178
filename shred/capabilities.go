package shred

import (
	"context"
	"slices"
	"strings"
)

// preflightKey is a key name used only to ask Vault what the token may do
// on per-backup key paths; policies match it like any backup's key.
const preflightKey = "bk-preflight"

// require checks, before anything changes, that the token has caps on
// path, and names what is missing otherwise. Vault still enforces every
// request; this only turns a half-done operation into a clear refusal.
func (v *Vault) require(ctx context.Context, role, path string, caps ...string) error {
	have, err := v.client.Sys().CapabilitiesSelfWithContext(ctx, path)
	if err != nil {
		return vaultError("check capabilities on", path, err)
	}
	if slices.Contains(have, "root") {
		return nil
	}
	for _, c := range caps {
		if !slices.Contains(have, c) {
			return refusedf("the Vault token lacks the %q capability on %s (it has: %s); use a token with the %s policy",
				c, path, strings.Join(have, ", "), role)
		}
	}
	return nil
}

// requireAdmin checks the capabilities protect and shred need.
func (v *Vault) requireAdmin(ctx context.Context, keyCaps ...string) error {
	if err := v.require(ctx, PolicyAdmin, v.kvData(backupPath(preflightKey)), "create", "update"); err != nil {
		return err
	}
	return v.require(ctx, PolicyAdmin, v.keyPath(preflightKey), keyCaps...)
}

// requireCompliance checks the capabilities holds and case close need.
func (v *Vault) requireCompliance(ctx context.Context) error {
	if err := v.require(ctx, PolicyCompliance, v.kvData(holdPath("preflight", preflightKey)), "create", "update"); err != nil {
		return err
	}
	return v.require(ctx, PolicyCompliance, v.keyPath(preflightKey)+"/config", "update")
}
