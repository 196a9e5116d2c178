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
	of, err := v.AttestationParts(ctx, opts.ID)
	if errors.Is(err, shred.ErrNotFound) {
		return &shred.RefusedError{Reason: "no attestation " + opts.ID + " is stored in Vault (see cryptoshred attest list)"}
	}
	if err != nil {
		return err
	}
	switch {
	case opts.Part != 0 && of == 1:
		return usagef("attestation %s was not issued in parts: leave out --part", opts.ID)
	case opts.Part < 0 || opts.Part > of:
		return usagef("attestation %s has %d parts: --part must be 1 to %d", opts.ID, of, of)
	case of > 1 && opts.Part == 0 && opts.Out == "":
		return usagef("attestation %s has %d parts: write them all with -o FILE, or one with --part N", opts.ID, of)
	case of > 1 && opts.Part == 0:
		return writeStoredParts(ctx, v, opts.ID, of, opts.Out, stderr)
	}
	what := "attestation " + opts.ID
	if opts.Part != 0 {
		what = fmt.Sprintf("part %d of %d of attestation %s", opts.Part, of, opts.ID)
	}
	env, err := v.GetAttestationPart(ctx, opts.ID, max(opts.Part, 1), of)
	if err != nil {
		return err
	}
	return writeEnvelope(env, what, opts.Out, stdout, stderr)
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

// writeStoredParts writes the of parts of attestation id, one at a time,
// and their index, named from out as shred run names them. It checks
// every name first, and removes what it wrote if it fails after.
func writeStoredParts(ctx context.Context, v *shred.Service, id string, of int, out string, stderr io.Writer) error {
	files := &partFiles{ID: id, Out: out}
	if err := checkNewOutputs(files.outputs(of)); err != nil {
		return err
	}
	index, err := writeStored(ctx, v, files, of)
	if err != nil {
		for _, name := range files.removeWritten() {
			printf(stderr, "removed %s: attestation %s could not be written whole\n", name, id)
		}
		return err
	}
	printf(stderr, "wrote the %d parts of attestation %s to %s to %s (index %s)\n", of, id, out, attest.PartFileName(out, of), index)
	return nil
}

// writeStored writes the of stored parts of files.ID and their index to
// files, and returns the index's name.
func writeStored(ctx context.Context, v *shred.Service, files *partFiles, of int) (string, error) {
	for i := 1; i <= of; i++ {
		env, err := v.GetAttestationPart(ctx, files.ID, i, of)
		if err != nil {
			return "", err
		}
		p, caseID, err := storedPart(env)
		if err != nil {
			return "", err
		}
		files.Case = caseID
		if err := files.WritePart(p); err != nil {
			return "", err
		}
	}
	return files.writeIndex()
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
