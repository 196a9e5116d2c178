// Package agefile is cryptoshred's use of the age format: the recipient
// stanza that names a Vault Transit key, header inspection without
// decrypting, and age Recipient and Identity implementations that wrap
// file keys through a Wrapper.
package agefile

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"filippo.io/age"

	"github.com/cryptoshred/cryptoshred/shred/catalog"
)

// StanzaType is the age recipient stanza type cryptoshred writes:
//
//	-> cryptoshred KEYNAME
//	BODY = Vault Transit ciphertext of the file key ("vault:vN:...")
//
// The stanza names the Transit key and nothing else: the key itself never
// leaves Vault.
const StanzaType = "cryptoshred"

// Wrapper wraps and unwraps file keys with a named key that never leaves
// its key store (Vault Transit). UnwrapKey returns an error wrapping
// errs.ErrKeyDestroyed when the key is gone.
type Wrapper interface {
	WrapKey(ctx context.Context, name string, fileKey []byte) (string, error)
	UnwrapKey(ctx context.Context, name, ciphertext string) ([]byte, error)
}

// Recipient is an age.Recipient that wraps the file key with one Vault
// Transit key. age's interface carries no context, so the Recipient holds
// the one its caller gave it.
type Recipient struct {
	ctx     context.Context
	wrapper Wrapper
	key     string
}

// NewRecipient returns a Recipient for the Transit key name. The key must
// exist; the Recipient does not create it.
func NewRecipient(ctx context.Context, w Wrapper, name string) *Recipient {
	return &Recipient{ctx: ctx, wrapper: w, key: name}
}

// Wrap implements age.Recipient.
func (r *Recipient) Wrap(fileKey []byte) ([]*age.Stanza, error) {
	ct, err := r.wrapper.WrapKey(r.ctx, r.key, fileKey)
	if err != nil {
		return nil, err
	}
	return []*age.Stanza{{Type: StanzaType, Args: []string{r.key}, Body: []byte(ct)}}, nil
}

// Identity is an age.Identity that unwraps the file key through Vault
// Transit. If Key is set, a stanza naming any other key is refused, so a
// file cannot be swapped for one wrapped to a different backup's key.
type Identity struct {
	ctx     context.Context
	wrapper Wrapper
	Key     string
}

// NewIdentity returns an Identity that only accepts the Transit key name
// (any cryptoshred key if name is empty).
func NewIdentity(ctx context.Context, w Wrapper, name string) *Identity {
	return &Identity{ctx: ctx, wrapper: w, Key: name}
}

// ErrWrongKey marks an age file wrapped to a different key than the one
// the catalog records for the backup.
var ErrWrongKey = errors.New("the file is wrapped to a different key than its catalog entry")

// Unwrap implements age.Identity.
func (i *Identity) Unwrap(stanzas []*age.Stanza) ([]byte, error) {
	for _, s := range stanzas {
		if s.Type != StanzaType {
			continue
		}
		name, ct, err := ParseStanza(s)
		if err != nil {
			return nil, err
		}
		if i.Key != "" && name != i.Key {
			return nil, fmt.Errorf("%w: file names %q, catalog says %q", ErrWrongKey, name, i.Key)
		}
		return i.wrapper.UnwrapKey(i.ctx, name, ct)
	}
	return nil, age.ErrIncorrectIdentity
}

// ParseStanza checks a cryptoshred stanza and returns the key name and the
// Vault ciphertext it carries.
func ParseStanza(s *age.Stanza) (key, ciphertext string, err error) {
	if s.Type != StanzaType || len(s.Args) != 1 {
		return "", "", errors.New("malformed cryptoshred stanza: want one argument, the key name")
	}
	if !catalog.ValidID(s.Args[0]) {
		return "", "", errors.New("malformed cryptoshred stanza: invalid key name")
	}
	ct := string(s.Body)
	if !vaultCiphertextRE.MatchString(ct) {
		return "", "", errors.New("malformed cryptoshred stanza: body is not a Vault ciphertext")
	}
	return s.Args[0], ct, nil
}

var vaultCiphertextRE = regexp.MustCompile(`^vault:v[1-9][0-9]{0,8}:[A-Za-z0-9+/]+={0,2}$`)
