package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
)

func attestGetCommand() *cli.Command {
	return &cli.Command{
		Name:      "get",
		Usage:     "fetch an attestation stored in Vault (checked against its recorded SHA-256)",
		ArgsUsage: "ID",
		Description: "Writes the signed envelope exactly as issued, to stdout or to a new file with -o. Verify it with " +
			"attest verify.\n" +
			"An attestation issued in parts is written whole with -o FILE: part 1 to FILE, the others to FILE.part-0002... " +
			"and the index to FILE.index.json (as shred run wrote them); --part N writes only part N. " +
			"A part's own id (ID-pNNNN, see attest list) gets that part.\n\nEXAMPLES:\n   cryptoshred attest list --case DPA-2021-0211\n" +
			"   cryptoshred attest get att-01m8... -o deletion.dsse.json\n   cryptoshred attest get att-01m8... --part 2 > part-2.dsse.json",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "file to create (must not exist); stdout if not given"},
			&cli.IntFlag{Name: "part", Usage: "of an attestation issued in parts, only part `N`"},
		},
		Action: func(c *cli.Context) error {
			if err := requireArgs(c, 1, "ID"); err != nil {
				return err
			}
			_, v, err := setup(c)
			if err != nil {
				return err
			}
			return runAttestGet(c.Context, v, attestGetOptions{ID: c.Args().First(), Out: c.String("output"), Part: c.Int("part")}, c.App.Writer, c.App.ErrWriter)
		},
	}
}

// attestGetOptions say which stored attestation to write where.
type attestGetOptions struct {
	ID, Out string
	Part    int
}

func runAttestGet(ctx context.Context, v *shred.Service, opts attestGetOptions, stdout, stderr io.Writer) error {
	envs, err := v.GetAttestationParts(ctx, opts.ID)
	if errors.Is(err, shred.ErrNotFound) {
		return &shred.RefusedError{Reason: "no attestation " + opts.ID + " is stored in Vault (see cryptoshred attest list)"}
	}
	if err != nil {
		return err
	}
	switch {
	case opts.Part != 0 && len(envs) == 1:
		return usagef("attestation %s was not issued in parts: leave out --part", opts.ID)
	case opts.Part < 0 || opts.Part > len(envs):
		return usagef("attestation %s has %d parts: --part must be 1 to %d", opts.ID, len(envs), len(envs))
	case opts.Part != 0:
		return writeEnvelope(envs[opts.Part-1], fmt.Sprintf("part %d of %d of attestation %s", opts.Part, len(envs), opts.ID), opts.Out, stdout, stderr)
	case len(envs) > 1 && opts.Out == "":
		return usagef("attestation %s has %d parts: write them all with -o FILE, or one with --part N", opts.ID, len(envs))
	case len(envs) > 1:
		return writeStoredParts(opts.ID, envs, opts.Out, stderr)
	}
	return writeEnvelope(envs[0], "attestation "+opts.ID, opts.Out, stdout, stderr)
}

// writeEnvelope writes env to out, or to stdout when out is "".
func writeEnvelope(env []byte, what, out string, stdout, stderr io.Writer) error {
	if out == "" {
		_, err := stdout.Write(env)
		return err
	}
	if err := writeBytes(out, env); err != nil {
		return err
	}
	printf(stderr, "wrote %s to %s\n", what, out)
	return nil
}

// writeStoredParts writes every part of attestation id and their index,
// named from out as shred run names them.
func writeStoredParts(id string, envs [][]byte, out string, stderr io.Writer) error {
	parts, caseID, err := partsOf(envs)
	if err != nil {
		return err
	}
	files := &partFiles{ID: id, Case: caseID, Out: out}
	index, err := files.write(parts)
	if err != nil {
		return err
	}
	printf(stderr, "wrote the %d parts of attestation %s to %s to %s (index %s)\n", len(parts), id, out, attest.PartFileName(out, len(parts)), index)
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
	printf(tw, "ATTESTATION\tCASE\tPART\tENVELOPE SHA-256\n")
	for _, a := range list {
		printf(tw, "%s\t%s\t%s\t%s\n", a.ID, a.Case, partColumn(a), a.SHA256)
	}
	return tw.Flush()
}

// partColumn is "2/21" for a part of an attestation issued in parts, "-"
// for a whole one.
func partColumn(a *catalog.AttestationInfo) string {
	if a.Of == 0 {
		return "-"
	}
	return fmt.Sprintf("%d/%d", a.Part, a.Of)
}
