package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/urfave/cli/v2"

	"github.com/cryptoshred/cryptoshred/internal/safetext"
	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/storage"
	"github.com/cryptoshred/cryptoshred/shred/storage/local"
	"github.com/cryptoshred/cryptoshred/shred/storage/s3"
	"github.com/cryptoshred/cryptoshred/shred/vault"
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
		&cli.StringFlag{Name: "transit-mount", Usage: "Transit mount holding the backup keys", EnvVars: []string{"CRYPTOSHRED_TRANSIT_MOUNT"}, Value: vault.DefaultMounts.Transit},
		&cli.StringFlag{Name: "kv-mount", Usage: "KV v2 mount holding the catalog and ledger", EnvVars: []string{"CRYPTOSHRED_KV_MOUNT"}, Value: vault.DefaultMounts.KV},
		&cli.StringFlag{Name: "format", Usage: "output format: text or json", Value: "text"},
	}
}

func globalOpts(c *cli.Context) (globalOptions, error) {
	o := globalOptions{
		VaultAddr:    c.String("vault-addr"),
		TransitMount: c.String("transit-mount"),
		KVMount:      c.String("kv-mount"),
		Format:       formatOption(c),
	}
	if formats := commandFormats(c); !slices.Contains(formats, o.Format) {
		return o, usagef("--format must be %s, not %q", strings.Join(formats, " or "), o.Format)
	}
	return o, nil
}

// formatOption is --format as given after the command (for a command
// with its own --format flag) or else before it.
func formatOption(c *cli.Context) string {
	for _, cc := range c.Lineage() {
		if f := cc.String("format"); f != "" {
			return f
		}
	}
	return "text"
}

// commandFormats are the output formats of c's command: text and json,
// and csv for a command that declares its own --format flag for it.
func commandFormats(c *cli.Context) []string {
	if c.Command != nil && slices.ContainsFunc(c.Command.Flags, func(f cli.Flag) bool { return slices.Contains(f.Names(), "format") }) {
		return []string{"text", "json", "csv"}
	}
	return []string{"text", "json"}
}

// connect returns a Vault client for the global options, with the token
// taken from VAULT_TOKEN or, as the vault CLI does, ~/.vault-token.
func connect(o globalOptions) (*vault.Client, error) {
	token, err := vaultToken()
	if err != nil {
		return nil, err
	}
	cfg, err := vault.ClientConfig(o.VaultAddr)
	if err != nil {
		return nil, err
	}
	client, err := api.NewClient(cfg)
	if err != nil {
		return nil, errors.New("failed to configure the Vault client: " + err.Error())
	}
	client.SetToken(token)
	return vault.New(client, vault.Mounts{Transit: o.TransitMount, KV: o.KVMount}), nil
}

// setup parses the global options, connects to Vault and returns the
// service over it, with ciphertexts in local files.
func setup(c *cli.Context) (globalOptions, *shred.Service, error) {
	o, v, err := setupVault(c)
	if err != nil {
		return o, nil, err
	}
	return o, newService(v), nil
}

// setupVault parses the global options and connects to Vault.
func setupVault(c *cli.Context) (globalOptions, *vault.Client, error) {
	o, err := globalOpts(c)
	if err != nil {
		return o, nil, err
	}
	v, err := connect(o)
	return o, v, err
}

// vaultToken returns VAULT_TOKEN or, when it is unset, the token `vault
// login` wrote to ~/.vault-token. It is never taken from a flag.
func vaultToken() (string, error) {
	if t := os.Getenv("VAULT_TOKEN"); t != "" {
		return t, nil
	}
	home, err := os.UserHomeDir()
	if err == nil {
		b, err := readFileLimited(filepath.Join(home, ".vault-token"), 64<<10)
		if t := strings.TrimSpace(string(b)); err == nil && t != "" {
			return t, nil
		}
	}
	return "", usagef("VAULT_TOKEN is not set and there is no ~/.vault-token: run vault login, or export VAULT_TOKEN=\"$(vault print token)\" " +
		"with a token for your role (it is never taken from a flag)")
}

func newService(v *vault.Client) *shred.Service {
	return shred.New(shred.Config{Records: v, Keys: v, Guard: v, Signer: v, Storage: newStorage()})
}

// newStorage routes s3:// locations to S3, configured from the AWS_*
// environment on first use, and everything else to local files.
func newStorage() storage.Resolver {
	return &storage.Router{Local: local.New(), NewS3: func() (storage.Backend, error) {
		return s3.New(context.Background())
	}}
}

// writeJSON writes v as indented JSON with every control or format
// character escaped (safetext.JSON): the values may be text someone else
// wrote (an output path, a statement's names), which must not drive the
// terminal that shows them.
func writeJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(safetext.JSON(buf.Bytes()))
	return err
}

// noteDefaultPolicy tells the operator of a bulk command whose token
// carries Vault's default policy what it costs: the policy is templated,
// so Vault parses it again on every request; shred plan and shred run of
// 10,000 backups took about twice as long with it
// (examples/vault/production.md).
func noteDefaultPolicy(actor shred.Actor, stderr io.Writer) {
	if slices.Contains(actor.Policies, "default") {
		printf(stderr, "note: the Vault token carries the default policy, which Vault parses again on every request; "+
			"a token without it (vault token create -no-default-policy, or token_no_default_policy=true on the auth method) "+
			"makes each request cheaper: shred run took about half as long in our measurements\n")
	}
}

// tokenMargin is how long the Vault token must still live when a command
// starts to destroy keys, open latches or place holds: one expiring
// sooner is renewed, or the operator warned.
const tokenMargin = 30 * time.Minute

// keepToken renews the token if it expires within tokenMargin, so a long
// run does not stop halfway; a token that cannot be renewed that far
// gets a warning naming when it expires. It never stops the command: a
// failed look-up or renewal is a warning too.
func keepToken(ctx context.Context, v *shred.Service, stderr io.Writer) {
	life, err := v.KeepToken(ctx, tokenMargin)
	switch {
	case err != nil:
		printf(stderr, "warning: could not check or renew the Vault token's lifetime: %v\n", err)
	case life.TTL > 0 && life.TTL < tokenMargin:
		printf(stderr, "warning: the Vault token expires at %s (in %s) and cannot be renewed for longer: a long run may stop halfway when it does (run it again to finish); use a token that lives longer\n",
			time.Now().Add(life.TTL).UTC().Format(time.RFC3339), life.TTL.Round(time.Second))
	case life.Renewed:
		printf(stderr, "note: renewed the Vault token, which expired within %s: it now expires at %s\n", tokenMargin, time.Now().Add(life.TTL).UTC().Format(time.RFC3339))
	}
}
