package main

import (
	"context"
	"io"
	"path/filepath"
	"strings"
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
				Description: "The attestation of a shred must name the data controller, so at least one --controller is " +
					"required; more can be added later with `case controller add`.\n\nEXAMPLES:\n" +
					"   cryptoshred case open DPA-2021-0211 --authority \"Example DPA\" --reference \"J.nr. 2021-431-0001\" --controller \"Example Ministry\"",
				Flags: []cli.Flag{
					caseFlag(),
					&cli.StringFlag{Name: "authority", Usage: "the data protection authority (required)"},
					&cli.StringFlag{Name: "reference", Usage: "the authority's case reference (required)"},
					&cli.StringSliceFlag{Name: "controller", Usage: "data controller the case concerns (required, repeatable)"},
				},
				Action: caseOpenAction,
			},
			{
				Name: "close", Usage: "record the authority's closing decision and release the case's holds", ArgsUsage: "CASE",
				Description: "Irreversible: each backup no other case holds is released, and its key's deletion latch " +
					"opened in Vault, which only a Vault operator can close again. It shows what it would release and " +
					"asks for the case id, unless --yes; --dry-run only shows. It refuses, before releasing anything, a " +
					"case whose shred could not be attested (no data controller on record).\n\nEXAMPLES:\n" +
					"   cryptoshred case close DPA-2021-0211 --decision-ref \"closing letter\" --decision-file closing-letter.pdf --dry-run\n" +
					"   cryptoshred case close DPA-2021-0211 --decision-ref \"closing letter\" --decision-file closing-letter.pdf --yes",
				Flags: []cli.Flag{
					caseFlag(),
					&cli.StringFlag{Name: "decision-ref", Usage: "the decision's reference (required)"},
					&cli.StringFlag{Name: "decision-file", Usage: "the decision document, its SHA-256 is recorded (required)"},
					&cli.BoolFlag{Name: "yes", Usage: "do not ask for confirmation"},
					&cli.BoolFlag{Name: "dry-run", Usage: "show what closing would release, change nothing"},
				},
				Action: caseCloseAction,
			},
			caseControllerCommand(),
			{Name: "list", Usage: "list cases", Action: caseListAction},
			{Name: "show", Usage: "show a case and its holds", ArgsUsage: "CASE", Flags: []cli.Flag{caseFlag()}, Action: caseShowAction},
		},
	}
}

func caseOpenAction(c *cli.Context) error {
	id, err := singleCaseArg(c)
	if err != nil {
		return err
	}
	kase := catalog.Case{ID: id, Authority: c.String("authority"), Reference: c.String("reference"),
		Controllers: c.StringSlice("controller")}
	if kase.Authority == "" || kase.Reference == "" || len(kase.Controllers) == 0 {
		return usagef("case open needs --authority, --reference and at least one --controller (an attestation must name the data controller)")
	}
	if err := catalog.CheckID("case", kase.ID); err != nil {
		return usagef("%v", err)
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
	id, err := singleCaseArg(c)
	if err != nil {
		return err
	}
	if c.String("decision-ref") == "" || c.String("decision-file") == "" {
		return usagef("case close needs --decision-ref and --decision-file")
	}
	o, v, err := setup(c)
	if err != nil {
		return err
	}
	req, err := closeRequest(id, c.String("decision-ref"), c.String("decision-file"))
	if err != nil {
		return err
	}
	if c.Bool("dry-run") {
		return runCaseCloseDryRun(c.Context, o, v, req.Case, c.App.Writer)
	}
	if !c.Bool("yes") {
		if err := confirmClose(c.Context, v, req.Case, c.App.Reader, c.App.ErrWriter); err != nil {
			return err
		}
	}
	return runCaseClose(c.Context, o, v, req, c.App.Writer, c.App.ErrWriter)
}

// confirmClose shows what closing would release and asks for the case id.
func confirmClose(ctx context.Context, v *shred.Service, caseID string, stdin io.Reader, stderr io.Writer) error {
	if !isTerminal(stdin) {
		return usagef("case close releases keys for destruction and cannot be undone: pass --yes when stdin is not a terminal (--dry-run shows what it would release)")
	}
	res, err := v.PreviewClose(ctx, caseID)
	if err != nil {
		return err
	}
	renderClosePreview(stderr, res)
	if !confirm(ctx, stdin, stderr, "Release these backups for destruction? Only a Vault operator can undo it.", caseID) {
		return &shred.RefusedError{Reason: "not confirmed: the case stays open and nothing was released"}
	}
	return nil
}

func runCaseCloseDryRun(ctx context.Context, o globalOptions, v *shred.Service, caseID string, w io.Writer) error {
	res, err := v.PreviewClose(ctx, caseID)
	if err != nil {
		return err
	}
	if o.Format == "json" {
		return writeJSON(w, map[string]any{"case": caseID, "wouldRelease": res.Released, "stillHeld": res.StillHeld})
	}
	renderClosePreview(w, res)
	return nil
}

func renderClosePreview(w io.Writer, res *shred.CloseResult) {
	for _, id := range res.Released {
		printf(w, "would release %s: its key's deletion latch is opened in Vault\n", id)
	}
	for _, id := range res.StillHeld {
		printf(w, "would keep %s held: another case holds it\n", id)
	}
	printf(w, "case %s: closing would release %d backup(s) for destruction; %d stay held by other cases\n",
		res.Case.ID, len(res.Released), len(res.StillHeld))
}

func closeRequest(caseID, ref, file string) (shred.CloseRequest, error) {
	sum, _, err := fsutil.FileSHA256(file)
	if err != nil {
		return shred.CloseRequest{}, err
	}
	return shred.CloseRequest{Case: caseID, Reference: ref,
		Document: catalog.DocumentRef{Name: filepath.Base(file), SHA256: sum}}, nil
}

func runCaseClose(ctx context.Context, o globalOptions, v *shred.Service, req shred.CloseRequest, w, stderr io.Writer) error {
	actor, err := v.WhoAmI(ctx)
	if err != nil {
		return err
	}
	keepToken(ctx, v, stderr)
	ctx, finish := withProgressBar(ctx, stderr, "closing case "+req.Case)
	res, err := v.CloseCase(ctx, actor, req)
	finish()
	if res != nil && len(res.StatusUnreadable) > 0 && o.Format != "json" {
		printf(w, "note: the status record of %d backup(s) could not be read and was left as it is (the hold records decided): %s\n",
			len(res.StatusUnreadable), strings.Join(res.StatusUnreadable, ", "))
	}
	if o.Format == "json" && res != nil {
		if jerr := writeJSON(w, closeJSON{CloseResult: res, Failed: failedItems(err)}); jerr != nil {
			return jerr
		}
		return err
	}
	if err != nil {
		printUnlisted(stderr, "failed", failedItems(err))
		return err
	}
	printf(w, "closed case %s with decision %s: %d backup(s) released for destruction, %d still held by other cases\n",
		req.Case, req.Reference, len(res.Released), len(res.StillHeld))
	return nil
}

// closeJSON is case close's JSON output: what the close did, and every
// backup that failed and why (failed; empty once the case is closed).
type closeJSON struct {
	*shred.CloseResult
	Failed []*shred.ItemError `json:"failed"`
}

func caseListAction(c *cli.Context) error {
	o, v, err := setup(c)
	if err != nil {
		return err
	}
	cases, skipped, err := v.ListCases(c.Context)
	if err != nil {
		return err
	}
	warnSkipped(c.App.ErrWriter, skipped)
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
	id, err := singleCaseArg(c)
	if err != nil {
		return err
	}
	o, v, err := setup(c)
	if err != nil {
		return err
	}
	kase, _, err := v.GetCase(c.Context, id)
	if err != nil {
		return err
	}
	holds, skipped, err := v.CaseHolds(c.Context, kase.ID)
	if err != nil {
		return err
	}
	warnSkipped(c.App.ErrWriter, skipped)
	if o.Format == "json" {
		return writeJSON(c.App.Writer, map[string]any{"case": kase, "holds": nonNil(holds)})
	}
	return renderCase(c.App.Writer, kase, holds)
}

func renderCase(w io.Writer, kase *catalog.Case, holds []*catalog.Hold) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	printf(tw, "Case:\t%s\nState:\t%s\nAuthority:\t%s\nReference:\t%s\nControllers:\t%s\nOpened:\t%s by %s\n",
		kase.ID, kase.State, kase.Authority, kase.Reference, dash(strings.Join(kase.Controllers, "; ")),
		kase.OpenedAt.Format(time.RFC3339), kase.OpenedBy)
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

func caseControllerCommand() *cli.Command {
	return &cli.Command{
		Name:  "controller",
		Usage: "add data controllers to a case",
		Subcommands: []*cli.Command{{
			Name: "add", Usage: "add data controllers to a case (recorded in the ledger)", ArgsUsage: "CASE NAME...",
			Description: "A shred can be attested only if a data controller is on record for the case or its backups. " +
				"Any case takes them, a closed one too.\n\nEXAMPLES:\n   cryptoshred case controller add DPA-2021-0211 \"Example Ministry\"",
			Flags: []cli.Flag{caseFlag()},
			Action: func(c *cli.Context) error {
				id, names, err := caseArg(c)
				if err != nil {
					return err
				}
				if len(names) == 0 {
					return usagef("%s: missing NAME", commandName(c))
				}
				o, v, err := setup(c)
				if err != nil {
					return err
				}
				return runControllerAdd(c.Context, o, v, id, names, c.App.Writer)
			},
		}},
	}
}

func runControllerAdd(ctx context.Context, o globalOptions, v *shred.Service, caseID string, names []string, w io.Writer) error {
	actor, err := v.WhoAmI(ctx)
	if err != nil {
		return err
	}
	kase, err := v.AddControllers(ctx, actor, caseID, names)
	if err != nil {
		return err
	}
	if o.Format == "json" {
		return writeJSON(w, kase)
	}
	printf(w, "case %s: data controllers %s\n", kase.ID, strings.Join(kase.Controllers, "; "))
	return nil
}
