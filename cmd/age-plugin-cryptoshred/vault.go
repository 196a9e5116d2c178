package main

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/hashicorp/vault/api"

	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// defaultVaultAddr is cryptoshred's default when VAULT_ADDR is unset.
const defaultVaultAddr = "https://127.0.0.1:8200"

// lazyVault returns a function that connects to Vault on first use, so a
// file with no cryptoshred stanza needs no Vault at all.
func lazyVault() func() (*vault.Client, error) {
	return sync.OnceValues(connect)
}

// connect returns the Vault named by VAULT_ADDR and VAULT_TOKEN, with the
// Transit mount CRYPTOSHRED_TRANSIT_MOUNT (default cryptoshred-transit).
// Other VAULT_* settings (CA certificate, retries) apply as usual.
func connect() (*vault.Client, error) {
	token := os.Getenv("VAULT_TOKEN")
	if token == "" {
		return nil, errors.New("VAULT_TOKEN is not set: export a Vault token with the cryptoshred-admin policy")
	}
	cfg, err := vault.ClientConfig(vaultAddr())
	if err != nil {
		return nil, err
	}
	client, err := api.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("failed to configure the Vault client: %w", err)
	}
	client.SetToken(token)
	return vault.New(client, vault.Mounts{Transit: os.Getenv("CRYPTOSHRED_TRANSIT_MOUNT")}), nil
}

func vaultAddr() string {
	if addr := os.Getenv("VAULT_ADDR"); addr != "" {
		return addr
	}
	return defaultVaultAddr
}
