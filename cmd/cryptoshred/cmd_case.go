package main

import (
	"context"
	"io"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cryptoshred/cryptoshred/internal/fsutil"
	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
)

func caseCommand() *cli.Command {
	return &cli.Command{
		Name:  "case",
		Usage: "open, close, list and show data protection authority cases",
		Subcommands: []*cli.Command{
			{
				Name: "open", Usage: "open a case", ArgsUsage: "CASE",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "authority", Usage: "the data protection authority"},
					&cli.StringFlag{Name: "reference", Usage: "the authority's case reference"},
					&cli.StringSliceFlag{Name: "controller", Usage: "data controller the case concerns (repeatable)"},
				},
				Action: caseOpenAction,
			},
			{
				Name: "close", Usage: "record the authority's closing decision and release the case's holds", ArgsUsage: "CASE",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "decision-ref", Usage: "the decision's reference"},
					&cli.StringFlag{Name: "decision-file", Usage: "the decision document (its SHA-256 is recorded)"},
				},
				Action: caseCloseAction,
			},
			{Name: "list", Usage: "list cases", Action: caseListAction},
			{Name: "show", Usage: "show a case and its holds", ArgsUsage: "CASE", Action: caseShowAction},
		},
	}
}

func caseOpenAction(c *cli.Context) error {
	if err := requireArgs(c, 1, "CASE"); err != nil {
		return err
	}
	kase := catalog.Case{ID: c.Args().First(), Authority: c.String("authority"), Reference: c.String("reference"),
		Controllers: c.StringSlice("controller")}
	if kase.Authority == "" || kase.Reference == "" {
		return usagef("case open needs --authority and --reference")
	}
	o, v, err := setup(c)
	if err != nil {
		return err
	}
	return runCaseOpen(c.Context, o, v, kase, c.App.Writer)
}

func runCaseOpen(ctx context.Context, o globalOptions, v *shred.Service, kase catalog.Case, w io.Writer) error {
	actor, err := v.WhoAmI(ctx)
	if err != nil {
		return err
	}
	opened, err := v.OpenCase(ctx, actor, kase)
	if err != nil {
		return err
	}
	if o.Format == "json" {
		return writeJSON(w, opened)
	}
	printf(w, "opened case %s (%s, %s)\n", opened.ID, opened.Authority, opened.Reference)
	return nil
}

func caseCloseAction(c *cli.Context) error {
	if err := requireArgs(c, 1, "CASE"); err != nil {
		return err
	}
	if c.String("decision-ref") == "" || c.String("decision-file") == "" {
		return usagef("case close needs --decision-ref and --decision-file")
	}
	o, v, err := setup(c)
	if err != nil {
		return err
	}
	req, err := closeRequest(c.Args().First(), c.String("decision-ref"), c.String("decision-file"))
	if err != nil {
		return err
	}
	return runCaseClose(c.Context, o, v, req, c.App.Writer)
}

func closeRequest(caseID, ref, file string) (shred.CloseRequest, error) {
	sum, _, err := fsutil.FileSHA256(file)
	if err != nil {
		return shred.CloseRequest{}, err
	}
	return shred.CloseRequest{Case: caseID, Reference: ref,
		Document: catalog.DocumentRef{Name: filepath.Base(file), SHA256: sum}}, nil
}

func runCaseClose(ctx context.Context, o globalOptions, v *shred.Service, req shred.CloseRequest, w io.Writer) error {
	actor, err := v.WhoAmI(ctx)
	if err != nil {
		return err
	}
	res, err := v.CloseCase(ctx, actor, req)
	if err != nil {
		return err
	}
	if o.Format == "json" {
		return writeJSON(w, res)
	}
	printf(w, "closed case %s with decision %s: %d backup(s) released for destruction, %d still held by other cases\n",
		req.Case, req.Reference, len(res.Released), len(res.StillHeld))
	return nil
}

func caseListAction(c *cli.Context) error {
	o, v, err := setup(c)
	if err != nil {
		return err
	}
	cases, err := v.ListCases(c.Context)
	if err != nil {
		return err
	}
	if o.Format == "json" {
		return writeJSON(c.App.Writer, nonNil(cases))
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	printf(tw, "CASE\tSTATE\tAUTHORITY\tREFERENCE\tOPENED\n")
	for _, k := range cases {
		printf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.State, k.Authority, k.Reference, k.OpenedAt.Format(time.DateOnly))
	}
	return tw.Flush()
}

func caseShowAction(c *cli.Context) error {
	if err := requireArgs(c, 1, "CASE"); err != nil {
		return err
	}
	o, v, err := setup(c)
	if err != nil {
		return err
	}
	kase, _, err := v.GetCase(c.Context, c.Args().First())
	if err != nil {
		return err
	}
	holds, err := v.CaseHolds(c.Context, kase.ID)
	if err != nil {
		return err
	}
	if o.Format == "json" {
		return writeJSON(c.App.Writer, map[string]any{"case": kase, "holds": nonNil(holds)})
	}
	return renderCase(c.App.Writer, kase, holds)
}

func renderCase(w io.Writer, kase *catalog.Case, holds []*catalog.Hold) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	printf(tw, "Case:\t%s\nState:\t%s\nAuthority:\t%s\nReference:\t%s\nOpened:\t%s by %s\n",
		kase.ID, kase.State, kase.Authority, kase.Reference, kase.OpenedAt.Format(time.RFC3339), kase.OpenedBy)
	if d := kase.Decision; d != nil {
		printf(tw, "Decision:\t%s (%s, sha256 %s), recorded %s by %s\n", d.Reference, d.Document.Name,
			d.Document.SHA256, d.RecordedAt.Format(time.RFC3339), d.RecordedBy)
	}
	for _, h := range holds {
		released := "active"
		if !h.ReleasedAt.IsZero() {
			released = "released " + h.ReleasedAt.Format(time.RFC3339)
		}
		printf(tw, "Hold:\t%s placed %s (%s)\n", h.Backup, h.PlacedAt.Format(time.RFC3339), released)
	}
	return tw.Flush()
}
