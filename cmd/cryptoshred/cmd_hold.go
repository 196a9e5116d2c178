package main

import (
	"context"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cryptoshred/cryptoshred/shred"
)

func holdCommand() *cli.Command {
	return &cli.Command{
		Name:  "hold",
		Usage: "place, list and release legal holds",
		Subcommands: []*cli.Command{holdReleaseCommand(), holdListCommand(), {
			Name:      "place",
			Usage:     "hold backups for a case: Vault then refuses to delete their keys",
			ArgsUsage: "[ID...]",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "case", Usage: "the open case placing the hold (required)"},
				&cli.StringFlag{Name: "system", Usage: "hold every backup of this system"},
				&cli.StringFlag{Name: "created-before", Usage: "with --system: only backups whose original was last modified (or, if unknown, that were protected) before this date (YYYY-MM-DD or RFC 3339)"},
			},
			Action: holdPlaceAction,
		}},
	}
}

func holdPlaceAction(c *cli.Context) error {
	sel, err := parseHoldSelector(c)
	if err != nil {
		return err
	}
	o, v, err := setup(c)
	if err != nil {
		return err
	}
	return runHoldPlace(c.Context, o, v, c.String("case"), sel, c.App.Writer, c.App.ErrWriter)
}

func parseHoldSelector(c *cli.Context) (shred.HoldSelector, error) {
	sel := shred.HoldSelector{IDs: c.Args().Slice(), System: c.String("system")}
	switch {
	case c.String("case") == "":
		return sel, usagef("hold place needs --case")
	case (len(sel.IDs) > 0) == (sel.System != ""):
		return sel, usagef("hold place needs either backup IDs or --system (exactly one of them)")
	case c.String("created-before") != "" && sel.System == "":
		return sel, usagef("--created-before goes with --system")
	}
	if s := c.String("created-before"); s != "" {
		t, err := parseDate(s)
		if err != nil {
			return sel, usagef("--created-before %q: want YYYY-MM-DD or RFC 3339", s)
		}
		sel.CreatedBefore = t
	}
	return sel, nil
}

func parseDate(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339, s)
}

func runHoldPlace(ctx context.Context, o globalOptions, v *shred.Service, caseID string, sel shred.HoldSelector, w, stderr io.Writer) error {
	actor, err := v.WhoAmI(ctx)
	if err != nil {
		return err
	}
	keepToken(ctx, v, stderr)
	ctx, finish := withProgressBar(ctx, stderr, "placing holds")
	held, err := v.PlaceHolds(ctx, actor, caseID, sel)
	finish()
	if o.Format == "json" {
		if jerr := writeJSON(w, map[string]any{"case": caseID, "held": nonNil(held), "failed": failedItems(err)}); jerr != nil {
			return jerr
		}
		return err
	}
	for _, id := range held {
		printf(w, "held %s for case %s\n", id, caseID)
	}
	printUnlisted(stderr, "not held:", failedItems(err))
	return err
}
