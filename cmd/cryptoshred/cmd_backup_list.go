package main

import (
	"context"
	"errors"
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
	if err := checkCaseExists(ctx, v, f.Case); err != nil {
		return err
	}
	backups, skipped, err := v.ListBackups(ctx, f)
	if err != nil {
		return err
	}
	warnSkipped(ew, skipped)
	if len(backups) == 0 && f.System != "" {
		if err := noteUnknownSystem(ctx, v, f.System, ew); err != nil {
			return err
		}
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

// checkCaseExists refuses a --case that names no case, so a typo is not
// mistaken for a case without backups.
func checkCaseExists(ctx context.Context, v *shred.Service, caseID string) error {
	if caseID == "" {
		return nil
	}
	_, _, err := v.GetCase(ctx, caseID)
	if errors.Is(err, shred.ErrNotFound) {
		return &shred.RefusedError{Reason: fmt.Sprintf("case %s does not exist (see cryptoshred case list)", caseID)}
	}
	return err
}

// noteUnknownSystem says on stderr when --system names no system in the
// catalog, with the systems that exist and the closest one.
func noteUnknownSystem(ctx context.Context, v *shred.Service, system string, ew io.Writer) error {
	systems, err := v.Systems(ctx)
	if err != nil || slices.Contains(systems, system) {
		return err
	}
	printf(ew, "note: no backup in the catalog has system %q%s; systems: %s\n", system,
		didYouMean(system, systems), dash(strings.Join(systems, ", ")))
	return nil
}

// warnSkipped warns on w of each record a listing skipped.
func warnSkipped(w io.Writer, skipped []*catalog.RecordError) {
	for _, r := range skipped {
		fmt.Fprintf(w, "warning: %s\n", safetext.Escape(r.Error()))
	}
}
