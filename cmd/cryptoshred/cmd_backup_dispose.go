package main

import (
	"context"
	"io"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/cryptoshred/cryptoshred/shred"
)

func backupDisposeCommand() *cli.Command {
	return &cli.Command{
		Name:      "dispose-original",
		Usage:     "record what became of a backup's plaintext original (deleted deletes it)",
		ArgsUsage: "ID",
		Description: "Crypto-shredding erases only what was encrypted. --method deleted removes the original if it " +
			"is still there and unchanged since protect; media-sanitized and not-ours record your declaration, " +
			"with --evidence naming a document whose SHA-256 is recorded.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "method", Usage: strings.Join(shred.DisposalMethods, ", ") + " (required)"},
			&cli.StringFlag{Name: "note", Usage: "what was done (required)"},
			&cli.StringFlag{Name: "evidence", Usage: "a document proving it (its SHA-256 is recorded)"},
		},
		Action: func(c *cli.Context) error {
			if err := requireArgs(c, 1, "ID"); err != nil {
				return err
			}
			req := shred.DisposeRequest{ID: c.Args().First(), Method: c.String("method"), Note: c.String("note"), Evidence: c.String("evidence")}
			switch {
			case req.Method == "" && req.Note == "":
				return usagef("dispose-original needs --method (%s) and --note", strings.Join(shred.DisposalMethods, ", "))
			case !slices.Contains(shred.DisposalMethods, req.Method):
				return usagef("--method %q: want one of %s%s", req.Method, strings.Join(shred.DisposalMethods, ", "),
					didYouMean(req.Method, shred.DisposalMethods))
			case req.Note == "":
				return usagef("--note is required: say what was done with the original")
			}
			o, v, err := setup(c)
			if err != nil {
				return err
			}
			return runDispose(c.Context, o, v, req, c.App.Writer)
		},
	}
}

func runDispose(ctx context.Context, o globalOptions, v *shred.Service, req shred.DisposeRequest, w io.Writer) error {
	actor, err := v.WhoAmI(ctx)
	if err != nil {
		return err
	}
	b, err := v.DisposeOriginal(ctx, actor, req)
	if err != nil {
		return err
	}
	if o.Format == "json" {
		return writeJSON(w, b)
	}
	printf(w, "recorded the original of %s (%s) as %s\n", b.ID, b.Original.Path, req.Method)
	return nil
}
