package shred

import (
	"context"
	"fmt"
)

// Actor is who a Vault token belongs to, as Vault reports it.
type Actor struct {
	DisplayName string   `json:"displayName"`
	EntityID    string   `json:"entityId,omitempty"`
	Policies    []string `json:"policies,omitempty"`
}

// String names the identity for the ledger and attestations.
func (i Actor) String() string {
	if i.EntityID != "" {
		return i.DisplayName + " (entity " + i.EntityID + ")"
	}
	return i.DisplayName
}

// WhoAmI looks up the token in use. The token itself is never returned.
func (v *Vault) WhoAmI(ctx context.Context) (Actor, error) {
	sec, err := v.client.Auth().Token().LookupSelfWithContext(ctx)
	if err != nil {
		return Actor{}, vaultError("look up", "auth/token/lookup-self", err)
	}
	if sec == nil {
		return Actor{}, fmt.Errorf("failed to look up the token: empty response")
	}
	id := Actor{}
	id.DisplayName, _ = sec.Data["display_name"].(string)
	id.EntityID, _ = sec.Data["entity_id"].(string)
	id.Policies, _ = sec.TokenPolicies()
	return id, nil
}
