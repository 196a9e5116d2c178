package main

import (
	"context"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/cryptoshred/cryptoshred/shred"
)

func backupOpenCommand() *cli.Command {
	return &cli.Command{
		Name:      "open",
		Usage:     "decrypt a backup for a documented purpose (recorded in the ledger)",
		ArgsUsage: "ID",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "purpose", Usage: "why the backup is opened (required)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "file to create (must not exist)"},
		},
		Action: func(c *cli.Context) error {
			if err := requireArgs(c, 1, "ID"); err != nil {
				return err
			}
			req := shred.RestoreRequest{ID: c.Args().First(), Purpose: c.String("purpose"), Output: c.String("output")}
			if req.Purpose == "" {
				return usagef("--purpose is required and must not be empty")
			}
			if req.Output == "" {
				return usagef("--output is required")
			}
			o, v, err := setup(c)
			if err != nil {
				return err
			}
			return runOpen(c.Context, o, v, req, c.App.ErrWriter)
		},
	}
}

func runOpen(ctx context.Context, o globalOptions, v *shred.Service, req shred.RestoreRequest, stderr io.Writer) error {
	actor, err := v.WhoAmI(ctx)
	if err != nil {
		return err
	}
	b, err := v.Restore(ctx, actor, req)
	if err != nil {
		return err
	}
	printf(stderr, "opened %s into %s (access recorded in the ledger)\n", b.ID, req.Output)
	return nil
}
