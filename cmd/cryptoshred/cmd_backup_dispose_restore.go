package main

import (
	"context"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/cryptoshred/cryptoshred/shred"
)

// disposeRestoreOptions are dispose-restore's settings.
type disposeRestoreOptions struct {
	ID     string
	Copies shred.RestoredCopies
	Note   string
}

func backupDisposeRestoreCommand() *cli.Command {
	return &cli.Command{
		Name:      "dispose-restore",
		Usage:     "record that the plaintext copies backup open wrote were disposed of",
		ArgsUsage: "ID",
		Description: "A restored copy is as dangerous as an undisposed original: crypto-shredding does not erase it. " +
			"Every open records where its plaintext went (a file's absolute path, or stdout), and attestations and " +
			"certificates warn about each copy until its disposal is recorded here. This records your declaration; " +
			"it deletes nothing. --output names the copy (a path, or - for what open -o - wrote to stdout; any other value, " +
			"even * or stdout, is a file's path); --all covers every copy.\n\n" +
			"EXAMPLES:\n   cryptoshred backup dispose-restore bk-01m8... --output /srv/restore/casework.tar --note \"deleted after the inspection\"\n" +
			"   cryptoshred backup dispose-restore bk-01m8... --all --note \"restore test copies wiped\"",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Usage: "the restored copy: the path open wrote, or - for stdout"},
			&cli.BoolFlag{Name: "all", Usage: "every restored copy of the backup not yet disposed of"},
			&cli.StringFlag{Name: "note", Usage: "what was done with it (required)"},
		},
		Action: func(c *cli.Context) error {
			if err := requireArgs(c, 1, "ID"); err != nil {
				return err
			}
			copies := shred.RestoredCopies{All: c.Bool("all"), Output: c.String("output")}
			if (copies.Output == "") == !copies.All {
				return usagef("dispose-restore needs --output PATH (- for stdout) or --all, not both")
			}
			opts := disposeRestoreOptions{ID: c.Args().First(), Copies: copies, Note: c.String("note")}
			if opts.Note == "" {
				return usagef("--note is required: say what was done with the restored copy")
			}
			o, v, err := setup(c)
			if err != nil {
				return err
			}
			return runDisposeRestore(c.Context, o, v, opts, c.App.Writer)
		},
	}
}

func runDisposeRestore(ctx context.Context, o globalOptions, v *shred.Service, opts disposeRestoreOptions, w io.Writer) error {
	actor, err := v.WhoAmI(ctx)
	if err != nil {
		return err
	}
	covered, err := v.DisposeRestore(ctx, actor, opts.ID, opts.Copies, opts.Note)
	if err != nil {
		return err
	}
	if o.Format == "json" {
		return writeJSON(w, map[string]any{"backup": opts.ID, "disposed": covered})
	}
	for _, out := range covered {
		printf(w, "recorded the restored copy of %s at %s as disposed of\n", opts.ID, out)
	}
	return nil
}
