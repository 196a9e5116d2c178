package main

import (
	"context"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/cryptoshred/cryptoshred/shred"
)

type verifyBackupsOptions struct {
	IDs  []string
	Case string
}

func backupVerifyCommand() *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "re-read and re-hash ciphertexts and report missing or changed ones",
		ArgsUsage: "ID... | --case C",
		Description: "Checks each ciphertext (a file, or an S3 object version) against the size and SHA-256 of its " +
			"write-once registration. A file system cannot hold a file, so run this on held backups.\n" +
			"Exit 0 all present and unchanged, 5 some missing or changed.",
		Flags: []cli.Flag{&cli.StringFlag{Name: "case", Usage: "every backup the case held"}},
		Action: func(c *cli.Context) error {
			opts := verifyBackupsOptions{IDs: c.Args().Slice(), Case: c.String("case")}
			if (len(opts.IDs) == 0) == (opts.Case == "") {
				return usagef("name backups to verify, or a --case, not both")
			}
			o, v, err := setup(c)
			if err != nil {
				return err
			}
			return runBackupVerify(c.Context, o, v, opts, c.App.Writer)
		},
	}
}

func runBackupVerify(ctx context.Context, o globalOptions, v *shred.Service, opts verifyBackupsOptions, w io.Writer) error {
	results, err := v.VerifyBackups(ctx, opts.IDs, opts.Case)
	if err != nil {
		return err
	}
	bad := 0
	for _, r := range results {
		if !r.OK {
			bad++
		}
	}
	if o.Format == "json" {
		if err := writeJSON(w, nonNil(results)); err != nil {
			return err
		}
	} else {
		for _, r := range results {
			printf(w, "%-4s %s %s %s\n", passFail(r.OK), r.ID, r.Path, r.Problem)
		}
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d ciphertext(s) missing or changed: %w", bad, len(results), shred.ErrCiphertextChanged)
	}
	return nil
}
