package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/internal/ctxio"
	"github.com/cryptoshred/cryptoshred/internal/fsutil"
	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/ledger"
)

type ledgerExportOptions struct {
	Output string
	Case   string
}

func ledgerExportCommand() *cli.Command {
	return &cli.Command{
		Name:  "export",
		Usage: "write the ledger, its head and the roles' public keys to one file an authority verifies offline",
		Description: "With --case, keeps that case's entries and those of the backups it held, and only the chain\n" +
			"hash of every other entry, so the file verifies as a whole without the rest of the history.\n" +
			"Verify it anywhere with: cryptoshred ledger verify --file FILE",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "the export file to create (required)"},
			&cli.StringFlag{Name: "case", Usage: "export only this case's entries (with the hashes that link them)"},
		},
		Action: func(c *cli.Context) error {
			if err := noExtraArgs(c); err != nil {
				return err
			}
			opts := ledgerExportOptions{Output: c.String("output"), Case: c.String("case")}
			if opts.Output == "" {
				return usagef("ledger export needs --output FILE, the export file to create")
			}
			_, v, err := setup(c)
			if err != nil {
				return err
			}
			return runLedgerExport(c.Context, v, opts, c.App.ErrWriter)
		},
	}
}

// runLedgerExport writes the export to a new file, which appears only
// complete and never after an interruption.
func runLedgerExport(ctx context.Context, v *shred.Service, opts ledgerExportOptions, stderr io.Writer) error {
	err := fsutil.WriteFileAtomic(opts.Output, func(w io.Writer) error {
		if err := v.ExportLedger(ctx, w, opts.Case); err != nil {
			return err
		}
		return ctxio.Interrupted(ctx)
	})
	if err != nil {
		return err
	}
	printf(stderr, "wrote the ledger export %s; verify it offline with: cryptoshred ledger verify --file %s\n", opts.Output, opts.Output)
	return nil
}

// ledgerSource opens the ledger to verify: an export file (no Vault, no
// network) or the service's ledger in Vault.
func ledgerSource(c *cli.Context, file string) (ledger.Source, func(context.Context, []ledger.Checkpoint) (*ledger.Report, error), error) {
	if file == "" {
		_, v, err := setup(c)
		if err != nil {
			return nil, nil, err
		}
		return nil, v.VerifyLedgerCheckpoints, nil
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	x, err := ledger.ReadExport(f)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", file, err)
	}
	return x, func(ctx context.Context, cps []ledger.Checkpoint) (*ledger.Report, error) {
		return ledger.VerifyCheckpoints(ctx, x, cps)
	}, nil
}

// attestedHeads reads the ledger head each attestation names. The
// attestations' signatures are not checked here (attest verify does):
// only their heads are compared with the chain.
func attestedHeads(files []string) ([]ledger.Checkpoint, error) {
	var out []ledger.Checkpoint
	for _, file := range files {
		raw, err := readFileLimited(file, 64<<20)
		if err != nil {
			return nil, err
		}
		st, err := attest.ParseUnverified(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		l := st.Predicate.Ledger
		out = append(out, ledger.Checkpoint{Name: "attestation " + st.Predicate.AttestationID + " (" + file + ")",
			Head: ledger.Head{Seq: l.Entries, Hash: l.Head}, Slots: l.Slots})
	}
	return out, nil
}
