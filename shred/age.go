package shred

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"filippo.io/age"
)

// StanzaType is the age recipient stanza type cryptoshred writes:
//
//	-> cryptoshred KEYNAME
//	BODY = Vault Transit ciphertext of the file key ("vault:vN:...")
//
// The stanza names the Transit key and nothing else: the key itself never
// leaves Vault.
const StanzaType = "cryptoshred"

var keyNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// ValidKeyName reports whether name is safe to use as a Transit key name
// (and so in a Vault path).
func ValidKeyName(name string) bool { return keyNameRE.MatchString(name) }

// Recipient is an age.Recipient that wraps the file key with one Vault
// Transit key. age's interface carries no context, so the Recipient holds
// the one its caller gave it.
type Recipient struct {
	ctx   context.Context
	vault *Vault
	key   string
}

// NewRecipient returns a Recipient for the Transit key name. The key must
// exist; the Recipient does not create it.
func NewRecipient(ctx context.Context, v *Vault, name string) *Recipient {
	return &Recipient{ctx: ctx, vault: v, key: name}
}

// Wrap implements age.Recipient.
func (r *Recipient) Wrap(fileKey []byte) ([]*age.Stanza, error) {
	ct, err := r.vault.WrapKey(r.ctx, r.key, fileKey)
	if err != nil {
		return nil, err
	}
	return []*age.Stanza{{Type: StanzaType, Args: []string{r.key}, Body: []byte(ct)}}, nil
}

// Identity is an age.Identity that unwraps the file key through Vault
// Transit. If Key is set, a stanza naming any other key is refused, so a
// file cannot be swapped for one wrapped to a different backup's key.
type Identity struct {
	ctx   context.Context
	vault *Vault
	Key   string
}

// NewIdentity returns an Identity that only accepts the Transit key name
// (any cryptoshred key if name is empty).
func NewIdentity(ctx context.Context, v *Vault, name string) *Identity {
	return &Identity{ctx: ctx, vault: v, Key: name}
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
		return i.vault.UnwrapKey(i.ctx, name, ct)
	}
	return nil, age.ErrIncorrectIdentity
}

// ParseStanza checks a cryptoshred stanza and returns the key name and the
// Vault ciphertext it carries.
func ParseStanza(s *age.Stanza) (key, ciphertext string, err error) {
	if s.Type != StanzaType || len(s.Args) != 1 {
		return "", "", errors.New("malformed cryptoshred stanza: want one argument, the key name")
	}
	if !ValidKeyName(s.Args[0]) {
		return "", "", errors.New("malformed cryptoshred stanza: invalid key name")
	}
	ct := string(s.Body)
	if !vaultCiphertextRE.MatchString(ct) {
		return "", "", errors.New("malformed cryptoshred stanza: body is not a Vault ciphertext")
	}
	return s.Args[0], ct, nil
}

var vaultCiphertextRE = regexp.MustCompile(`^vault:v[1-9][0-9]{0,8}:[A-Za-z0-9+/]+={0,2}$`)
