package main

import (
	"context"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cryptoshred/cryptoshred/shred"
)

func reportCommand() *cli.Command {
	return &cli.Command{
		Name:  "report",
		Usage: "reports from the ledger",
		Subcommands: []*cli.Command{{
			Name:  "access",
			Usage: "who opened which backup, when, and why",
			Flags: []cli.Flag{
				&cli.DurationFlag{Name: "since", Usage: "only opens in this past duration (e.g. 720h)"},
			},
			Action: func(c *cli.Context) error {
				if c.Duration("since") < 0 {
					return usagef("--since must be positive")
				}
				o, v, err := setup(c)
				if err != nil {
					return err
				}
				return runReportAccess(c.Context, o, v, c.Duration("since"), c.App.Writer)
			},
		}},
	}
}

func runReportAccess(ctx context.Context, o globalOptions, v *shred.Service, since time.Duration, w io.Writer) error {
	var from time.Time
	if since > 0 {
		from = time.Now().Add(-since)
	}
	accesses, err := v.AccessReport(ctx, from)
	if err != nil {
		return err
	}
	if o.Format == "json" {
		return writeJSON(w, nonNil(accesses))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	printf(tw, "WHEN\tWHO\tBACKUP\tPURPOSE\n")
	for _, a := range accesses {
		printf(tw, "%s\t%s\t%s\t%s\n", a.At.Format(time.RFC3339), a.Who, a.Backup, strconv.Quote(a.Purpose))
	}
	return tw.Flush()
}
