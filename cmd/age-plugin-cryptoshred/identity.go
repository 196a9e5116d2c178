package main

import (
	"context"
	"errors"
	"slices"

	"filippo.io/age"

	"github.com/cryptoshred/cryptoshred/shred/agefile"
	shrederrs "github.com/cryptoshred/cryptoshred/shred/errs"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// keyIdentity unwraps cryptoshred stanzas through Vault: those of one key
// if key is set, else those of any key.
type keyIdentity struct {
	ctx   context.Context
	vault func() (*vault.Client, error)
	key   string
}

// newIdentity parses an identity payload: empty, or a Transit key name.
func newIdentity(ctx context.Context, vault func() (*vault.Client, error), data []byte) (age.Identity, error) {
	name := string(data)
	if err := checkIdentityPayload(name); err != nil {
		return nil, err
	}
	return &keyIdentity{ctx: ctx, vault: vault, key: name}, nil
}

// Unwrap implements age.Identity. A stanza of another type or key is not
// this identity's; a key destroyed in Vault is reported as such.
func (i *keyIdentity) Unwrap(stanzas []*age.Stanza) ([]byte, error) {
	mine := slices.DeleteFunc(slices.Clone(stanzas), func(s *age.Stanza) bool { return !i.accepts(s) })
	if len(mine) == 0 {
		return nil, age.ErrIncorrectIdentity
	}
	v, err := i.vault()
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, s := range mine {
		fileKey, err := agefile.NewIdentity(i.ctx, v, i.key).Unwrap([]*age.Stanza{s})
		if err == nil {
			return fileKey, nil
		}
		if errors.Is(err, shrederrs.ErrUnavailable) {
			return nil, err // Vault may have unwrapped it: no second unwrap for one decryption
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

func (i *keyIdentity) accepts(s *age.Stanza) bool {
	return s.Type == agefile.StanzaType && (i.key == "" || len(s.Args) == 1 && s.Args[0] == i.key)
}
