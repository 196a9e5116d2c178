package main

import (
	"errors"
	"fmt"

	"filippo.io/age/plugin"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
)

// newKey is the recipient payload that asks for a fresh per-backup key,
// named like a backup id, for each file encrypted.
const newKey = "new"

// anyKey is what -identity takes for the identity with an empty payload,
// which accepts a stanza for any cryptoshred key.
const anyKey = "any"

// encodeRecipient returns age1cryptoshred1... whose payload is the Transit
// key name, or "new".
func encodeRecipient(name string) (string, error) {
	if err := checkRecipientPayload(name); err != nil {
		return "", err
	}
	return plugin.EncodeRecipient(pluginName, []byte(name)), nil
}

// encodeIdentity returns AGE-PLUGIN-CRYPTOSHRED-1... whose payload is the
// Transit key name it is restricted to, or empty for anyKey.
func encodeIdentity(name string) (string, error) {
	if name == anyKey {
		name = ""
	}
	if err := checkIdentityPayload(name); err != nil {
		return "", err
	}
	return plugin.EncodeIdentity(pluginName, []byte(name)), nil
}

func checkRecipientPayload(name string) error {
	if name != newKey && !catalog.ValidID(name) {
		return fmt.Errorf("invalid recipient %q: want a Transit key name or %q", truncate(name), newKey)
	}
	return nil
}

func checkIdentityPayload(name string) error {
	if name != "" && !catalog.ValidID(name) {
		return errors.New("invalid identity: its payload must be empty or a Transit key name")
	}
	return nil
}

func truncate(s string) string {
	if len(s) <= 40 {
		return s
	}
	return s[:40] + "..."
}
