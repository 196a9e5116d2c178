package main

import (
	"context"
	"errors"
	"io"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/cryptoshred/cryptoshred/internal/fsutil"
	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
)

func attestGetCommand() *cli.Command {
	return &cli.Command{
		Name:      "get",
		Usage:     "fetch an attestation stored in Vault (checked against its recorded SHA-256)",
		ArgsUsage: "ID",
		Description: "Writes the signed envelope exactly as issued, to stdout or to a new file with -o. Verify it with " +
			"attest verify.\n\nEXAMPLES:\n   cryptoshred attest list --case DPA-2021-0211\n" +
			"   cryptoshred attest get att-01m8... -o deletion.dsse.json",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "file to create (must not exist); stdout if not given"},
		},
		Action: func(c *cli.Context) error {
			if err := requireArgs(c, 1, "ID"); err != nil {
				return err
			}
			_, v, err := setup(c)
			if err != nil {
				return err
			}
			return runAttestGet(c.Context, v, c.Args().First(), c.String("output"), c.App.Writer, c.App.ErrWriter)
		},
	}
}

func runAttestGet(ctx context.Context, v *shred.Service, id, out string, stdout, stderr io.Writer) error {
	env, err := v.GetAttestation(ctx, id)
	if errors.Is(err, shred.ErrNotFound) {
		return &shred.RefusedError{Reason: "no attestation " + id + " is stored in Vault (see cryptoshred attest list)"}
	}
	if err != nil {
		return err
	}
	if out == "" {
		_, err := stdout.Write(env)
		return err
	}
	if err := fsutil.WriteFileAtomic(out, func(w io.Writer) error { _, err := w.Write(env); return err }); err != nil {
		return err
	}
	printf(stderr, "wrote attestation %s to %s\n", id, out)
	return nil
}

func attestListCommand() *cli.Command {
	return &cli.Command{
		Name:        "list",
		Usage:       "list the attestations stored in Vault",
		Description: "EXAMPLES:\n   cryptoshred attest list\n   cryptoshred attest list --case DPA-2021-0211 --format json",
		Flags:       []cli.Flag{&cli.StringFlag{Name: "case", Usage: "only this case's attestations"}},
		Action:      listByCaseAction((*shred.Service).ListAttestations, renderAttestations),
	}
}

func renderAttestations(w io.Writer, list []*catalog.AttestationInfo) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	printf(tw, "ATTESTATION\tCASE\tENVELOPE SHA-256\n")
	for _, a := range list {
		printf(tw, "%s\t%s\t%s\n", a.ID, a.Case, a.SHA256)
	}
	return tw.Flush()
}
