package vault

import (
	"context"
	"fmt"
	"time"

	"github.com/cryptoshred/cryptoshred/shred"
)

// WhoAmI looks up the token in use. The token itself is never returned.
func (v *Client) WhoAmI(ctx context.Context) (shred.Actor, error) {
	sec, err := v.client.Auth().Token().LookupSelfWithContext(ctx)
	if err != nil {
		return shred.Actor{}, vaultError("look up", "auth/token/lookup-self", err)
	}
	if sec == nil {
		return shred.Actor{}, fmt.Errorf("failed to look up the token: empty response")
	}
	id := shred.Actor{}
	id.DisplayName, _ = sec.Data["display_name"].(string)
	id.EntityID, _ = sec.Data["entity_id"].(string)
	id.Policies, _ = sec.TokenPolicies()
	return id, nil
}

// KeepToken renews the token (renew-self, which every role's policy
// grants) for twice margin, as far as its max TTL lets it, if it expires
// within margin and is renewable, and returns how long it then lives.
func (v *Client) KeepToken(ctx context.Context, margin time.Duration) (shred.TokenLife, error) {
	life, err := v.tokenLife(ctx)
	if err != nil || life.TTL == 0 || life.TTL >= margin || !life.Renewable {
		return life, err
	}
	sec, err := v.client.Auth().Token().RenewSelfWithContext(ctx, int((2 * margin).Seconds()))
	if err != nil {
		return life, vaultError("renew", "auth/token/renew-self", err)
	}
	if sec == nil || sec.Auth == nil {
		return life, fmt.Errorf("failed to renew the token: empty response")
	}
	life.TTL, life.Renewed = time.Duration(sec.Auth.LeaseDuration)*time.Second, true
	return life, nil
}

// tokenLife looks up how long the token still lives and whether it may
// be renewed.
func (v *Client) tokenLife(ctx context.Context) (shred.TokenLife, error) {
	sec, err := v.client.Auth().Token().LookupSelfWithContext(ctx)
	if err != nil {
		return shred.TokenLife{}, vaultError("look up", "auth/token/lookup-self", err)
	}
	if sec == nil {
		return shred.TokenLife{}, fmt.Errorf("failed to look up the token: empty response")
	}
	ttl, err := sec.TokenTTL()
	if err != nil {
		return shred.TokenLife{}, fmt.Errorf("failed to read the token's TTL: %w", err)
	}
	renewable, _ := sec.TokenIsRenewable()
	return shred.TokenLife{TTL: ttl, Renewable: renewable}, nil
}
