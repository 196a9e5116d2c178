package main

import (
	"context"
	"io"

	"github.com/cryptoshred/cryptoshred/shred/vault"
	"github.com/urfave/cli/v2"
)

func initCommand() *cli.Command {
	return &cli.Command{
		Name:        "init",
		Usage:       "create the mounts, mount configuration and policies in Vault, and index the catalog (idempotent)",
		Description: "Needs a token that may manage mounts, policies and audited request headers (sys/config/auditing) and read every registration (examples/vault/production.md has the policy). A second run changes nothing and says so.",
		Action: func(c *cli.Context) error {
			if err := noExtraArgs(c); err != nil {
				return err
			}
			o, v, err := setupVault(c)
			if err != nil {
				return err
			}
			return runInit(c.Context, o, v, c.App.Writer)
		},
	}
}

func runInit(ctx context.Context, o globalOptions, v *vault.Client, w io.Writer) error {
	changes, err := v.Init(ctx)
	if err != nil {
		return err
	}
	if o.Format == "json" {
		return writeJSON(w, map[string]any{"changed": len(changes) > 0, "changes": nonNil(changes)})
	}
	if len(changes) == 0 {
		printf(w, "Vault is already set up for cryptoshred at %s: no change\n", v.Address())
		return nil
	}
	for _, ch := range changes {
		printf(w, "%s\n", ch.What)
	}
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
