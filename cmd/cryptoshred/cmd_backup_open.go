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
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "file to create (must not exist), or - for stdout (required)"},
		},
		Description: "The purpose, who opened it and where the plaintext went are recorded in the ledger before the key " +
			"is unwrapped. A file appears only complete and authenticated. With -o - the plaintext streams to stdout " +
			"as each chunk authenticates (refused when stdout is a terminal); a failure leaves a truncated stream and " +
			"a non-zero exit, as age -d does.\n\nEXAMPLES:\n" +
			"   cryptoshred backup open bk-01m8... --purpose \"subject access request 17\" -o casework.tar\n" +
			"   cryptoshred backup open bk-01m8... --purpose \"restore test 2026-Q4\" -o - | tar -t",
		Action: func(c *cli.Context) error {
			if err := requireArgs(c, 1, "ID"); err != nil {
				return err
			}
			req := shred.RestoreRequest{ID: c.Args().First(), Purpose: c.String("purpose"), Output: c.String("output")}
			if req.Purpose == "" {
				return usagef("--purpose is required and must not be empty")
			}
			if req.Output == "" {
				return usagef("--output is required: a file to create, or - for stdout")
			}
			if req.Output == "-" {
				if isTerminal(c.App.Writer) {
					return usagef("-o - writes the plaintext to stdout, which is a terminal: redirect it or give a file")
				}
				req.Writer = c.App.Writer
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
	update, finish := bytesProgress(stderr, "opening "+req.ID)
	req.Progress = update
	b, err := v.Restore(ctx, actor, req)
	finish()
	if err != nil {
		return err
	}
	where := req.Output
	if req.Writer != nil {
		where = "stdout"
	}
	printf(stderr, "opened %s into %s (access recorded in the ledger)\n", b.ID, where)
	return nil
}
