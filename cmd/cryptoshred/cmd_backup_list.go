package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/cryptoshred/cryptoshred/internal/safetext"
	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
)

func backupListCommand() *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "list backups in the catalog",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "state", Usage: "only backups in this state"},
			&cli.StringFlag{Name: "system", Usage: "only backups of this system"},
			&cli.StringFlag{Name: "case", Usage: "only backups held by or shredded for this case"},
		},
		Action: func(c *cli.Context) error {
			f := catalog.BackupFilter{State: catalog.State(c.String("state")), System: c.String("system"), Case: c.String("case")}
			if f.State != "" && !slices.Contains(catalog.States, f.State) {
				return usagef("--state %q: want one of %s", f.State, joinStates())
			}
			o, v, err := setup(c)
			if err != nil {
				return err
			}
			return runBackupList(c.Context, o, v, f, c.App.Writer, c.App.ErrWriter)
		},
	}
}

func joinStates() string {
	s := make([]string, len(catalog.States))
	for i, st := range catalog.States {
		s[i] = string(st)
	}
	return strings.Join(s, ", ")
}

func runBackupList(ctx context.Context, o globalOptions, v *shred.Service, f catalog.BackupFilter, w, ew io.Writer) error {
	backups, skipped, err := v.ListBackups(ctx, f)
	if err != nil {
		return err
	}
	for _, r := range skipped {
		fmt.Fprintf(ew, "warning: %s\n", safetext.Escape(r.Error()))
	}
	if o.Format == "json" {
		return writeJSON(w, nonNil(backups))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	printf(tw, "ID\tSTATE\tSYSTEM\tHELD BY\tSIZE\tNAME\n")
	for _, b := range backups {
		printf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", b.ID, b.State, dash(b.System), dash(strings.Join(b.HeldBy, ",")), b.Plaintext.Size, b.Name)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
