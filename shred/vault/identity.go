package vault

import (
	"context"
	"fmt"

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
