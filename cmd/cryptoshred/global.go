package main

import (
	"encoding/json"
	"errors"
	"io"
	"os"

	"github.com/hashicorp/vault/api"
	"github.com/urfave/cli/v2"

	"github.com/cryptoshred/cryptoshred/shred"
)

// globalOptions are the settings every command shares.
type globalOptions struct {
	VaultAddr    string
	TransitMount string
	KVMount      string
	Format       string
}

func globalFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "vault-addr", Usage: "Vault address", EnvVars: []string{"VAULT_ADDR"}, Value: "https://127.0.0.1:8200"},
		&cli.StringFlag{Name: "transit-mount", Usage: "Transit mount holding the backup keys", EnvVars: []string{"CRYPTOSHRED_TRANSIT_MOUNT"}, Value: shred.DefaultMounts.Transit},
		&cli.StringFlag{Name: "kv-mount", Usage: "KV v2 mount holding the catalog and ledger", EnvVars: []string{"CRYPTOSHRED_KV_MOUNT"}, Value: shred.DefaultMounts.KV},
		&cli.StringFlag{Name: "format", Usage: "output format: text or json", Value: "text"},
	}
}

func globalOpts(c *cli.Context) (globalOptions, error) {
	o := globalOptions{
		VaultAddr:    c.String("vault-addr"),
		TransitMount: c.String("transit-mount"),
		KVMount:      c.String("kv-mount"),
		Format:       c.String("format"),
	}
	if o.Format != "text" && o.Format != "json" {
		return o, usagef("--format must be text or json, not %q", o.Format)
	}
	return o, nil
}

// connect returns a Vault for the global options, with the token taken from
// VAULT_TOKEN.
func connect(o globalOptions) (*shred.Vault, error) {
	token := os.Getenv("VAULT_TOKEN")
	if token == "" {
		return nil, usagef("VAULT_TOKEN is not set: export a Vault token for your role (it is never taken from a flag)")
	}
	cfg, err := shred.ClientConfig(o.VaultAddr)
	if err != nil {
		return nil, err
	}
	client, err := api.NewClient(cfg)
	if err != nil {
		return nil, errors.New("failed to configure the Vault client: " + err.Error())
	}
	client.SetToken(token)
	return shred.NewVault(client, shred.Mounts{Transit: o.TransitMount, KV: o.KVMount}), nil
}

// setup parses the global options and connects to Vault.
func setup(c *cli.Context) (globalOptions, *shred.Vault, error) {
	o, err := globalOpts(c)
	if err != nil {
		return o, nil, err
	}
	v, err := connect(o)
	return o, v, err
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
