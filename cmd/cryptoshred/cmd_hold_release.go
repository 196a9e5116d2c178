package main

import (
	"context"
	"io"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
)

// holdReleaseOptions are hold release's settings.
type holdReleaseOptions struct {
	Case   string
	IDs    []string
	Reason string
}

func holdReleaseCommand() *cli.Command {
	return &cli.Command{
		Name:      "release",
		Usage:     "release an open case's holds on backups before the case closes (a hold placed by mistake)",
		ArgsUsage: "ID...",
		Description: "Marks each hold record released with --reason and records it in the ledger (hold.released with the " +
			"reason). The key's deletion latch is not touched: a backup no other case holds goes back to protected, " +
			"its key still undeletable in Vault. Only the compliance role may do this; to release for destruction, " +
			"close the case.\n\nEXAMPLES:\n   cryptoshred hold release --case DPA-2021-0211 bk-01m8... --reason \"held by mistake: other system\"",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "case", Usage: "the open case whose holds to release (required)"},
			&cli.StringFlag{Name: "reason", Usage: "why the hold is released before the case closes (required)"},
		},
		Action: func(c *cli.Context) error {
			opts := holdReleaseOptions{Case: c.String("case"), IDs: c.Args().Slice(), Reason: c.String("reason")}
			if opts.Case == "" || opts.Reason == "" || len(opts.IDs) == 0 {
				return usagef("hold release needs --case, --reason and the backup IDs whose holds to release")
			}
			o, v, err := setup(c)
			if err != nil {
				return err
			}
			return runHoldRelease(c.Context, o, v, opts, c.App.Writer, c.App.ErrWriter)
		},
	}
}

func runHoldRelease(ctx context.Context, o globalOptions, v *shred.Service, opts holdReleaseOptions, w, stderr io.Writer) error {
	actor, err := v.WhoAmI(ctx)
	if err != nil {
		return err
	}
	ctx, finish := withProgressBar(ctx, stderr, "releasing holds")
	released, err := v.ReleaseHolds(ctx, actor, opts.Case, opts.IDs, opts.Reason)
	finish()
	if o.Format == "json" {
		if jerr := writeJSON(w, map[string]any{"case": opts.Case, "released": nonNil(released), "failed": failedItems(err)}); jerr != nil {
			return jerr
		}
		return err
	}
	for _, id := range released {
		printf(w, "released case %s's hold on %s (its key stays undeletable in Vault)\n", opts.Case, id)
	}
	printUnlisted(stderr, "failed", failedItems(err))
	return err
}

func holdListCommand() *cli.Command {
	return &cli.Command{
		Name:        "list",
		Usage:       "list hold records: every case's, or one case's with --case",
		Description: "EXAMPLES:\n   cryptoshred hold list\n   cryptoshred hold list --case DPA-2021-0211 --format json",
		Flags:       []cli.Flag{&cli.StringFlag{Name: "case", Usage: "only this case's holds"}},
		Action:      holdListAction,
	}
}

// holdListAction lists the hold records, warning of each that cannot be
// read (it counts as an active hold).
func holdListAction(c *cli.Context) error {
	o, v, err := setup(c)
	if err != nil {
		return err
	}
	holds, skipped, err := v.ListHolds(c.Context, c.String("case"))
	if err != nil {
		return err
	}
	warnSkipped(c.App.ErrWriter, skipped)
	if o.Format == "json" {
		return writeJSON(c.App.Writer, nonNil(holds))
	}
	return renderHolds(c.App.Writer, holds)
}

// listByCaseAction is the action of a list command with an optional
// --case: it refuses an unknown case, lists, and renders as JSON or with
// render.
func listByCaseAction[T any](list func(*shred.Service, context.Context, string) ([]T, error), render func(io.Writer, []T) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		o, v, err := setup(c)
		if err != nil {
			return err
		}
		if err := checkCaseExists(c.Context, v, c.String("case")); err != nil {
			return err
		}
		items, err := list(v, c.Context, c.String("case"))
		if err != nil {
			return err
		}
		if o.Format == "json" {
			return writeJSON(c.App.Writer, nonNil(items))
		}
		return render(c.App.Writer, items)
	}
}

func renderHolds(w io.Writer, holds []*catalog.Hold) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	printf(tw, "CASE\tBACKUP\tSTATE\tPLACED\tPLACED BY\tRELEASED\tREASON\n")
	for _, h := range holds {
		state := "active"
		if !h.ReleasedAt.IsZero() {
			state = "released"
		}
		printf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", h.Case, h.Backup, state, h.PlacedAt.Format(time.RFC3339), h.PlacedBy,
			orDash(h.ReleasedAt), dash(h.ReleaseReason))
	}
	return tw.Flush()
}
