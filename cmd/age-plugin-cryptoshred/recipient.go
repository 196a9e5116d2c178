package main

import (
	"context"
	"fmt"

	"filippo.io/age"
	"filippo.io/age/plugin"

	"github.com/cryptoshred/cryptoshred/shred/agefile"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// newRecipient parses a recipient payload: a Transit key name, or "new".
func newRecipient(ctx context.Context, p *plugin.Plugin, vault func() (*vault.Client, error), data []byte) (age.Recipient, error) {
	name := string(data)
	if err := checkRecipientPayload(name); err != nil {
		return nil, err
	}
	v, err := vault()
	if err != nil {
		return nil, err
	}
	if name == newKey {
		return &newKeyRecipient{ctx: ctx, p: p, vault: v}, nil
	}
	return &keyRecipient{ctx: ctx, vault: v, name: name}, nil
}

// keyRecipient wraps file keys with an existing Transit key.
type keyRecipient struct {
	ctx   context.Context
	vault *vault.Client
	name  string
}

// Wrap implements age.Recipient. It refuses a key that is missing or may
// exist outside Vault, since destroying it would prove nothing.
func (r *keyRecipient) Wrap(fileKey []byte) ([]*age.Stanza, error) {
	info, err := r.vault.KeyInfo(r.ctx, r.name)
	if err != nil {
		return nil, err
	}
	if info == nil {
		return nil, fmt.Errorf("key %s is not in Vault: it was never created, or it was destroyed", r.name)
	}
	if err := info.Shreddable(); err != nil {
		return nil, err
	}
	return agefile.NewRecipient(r.ctx, r.vault, r.name).Wrap(fileKey)
}

// newKeyRecipient creates a fresh per-backup key for each file key it
// wraps, as `cryptoshred backup protect` does, and tells the user its name.
type newKeyRecipient struct {
	ctx   context.Context
	p     *plugin.Plugin
	vault *vault.Client
}

// Wrap implements age.Recipient.
func (r *newKeyRecipient) Wrap(fileKey []byte) ([]*age.Stanza, error) {
	name := catalog.NewBackupID()
	if err := r.vault.CreateKey(r.ctx, name); err != nil {
		return nil, err
	}
	stanzas, err := agefile.NewRecipient(r.ctx, r.vault, name).Wrap(fileKey)
	if err != nil {
		return nil, err
	}
	_ = r.p.DisplayMessage("wrapped to new key " + name + "; adopt the file with `cryptoshred backup register FILE`")
	return stanzas, nil
}
