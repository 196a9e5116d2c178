package main

import (
	"context"
	"io"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cryptoshred/cryptoshred/shred"
)

func shredCommand() *cli.Command {
	return &cli.Command{
		Name:  "shred",
		Usage: "destroy the keys of a closed case's released backups",
		Subcommands: []*cli.Command{
			{
				Name: "plan", Usage: "show what shred run would do for each backup of a case; changes nothing",
				Flags:  []cli.Flag{&cli.StringFlag{Name: "case", Usage: "the closed case (required)"}},
				Action: shredPlanAction,
			},
			shredRunCommand(),
			{
				Name: "cancel", Usage: "cancel a scheduled destruction while its grace period runs (the backups return to released)",
				Flags:  []cli.Flag{&cli.StringFlag{Name: "case", Usage: "the case (required)"}},
				Action: shredCancelAction,
			},
		},
	}
}

func requireCase(c *cli.Context) (string, error) {
	if c.String("case") == "" {
		return "", usagef("%s needs --case", commandName(c))
	}
	return c.String("case"), noExtraArgs(c)
}

func shredPlanAction(c *cli.Context) error {
	caseID, err := requireCase(c)
	if err != nil {
		return err
	}
	o, v, err := setup(c)
	if err != nil {
		return err
	}
	ctx, finish := withProgressBar(c.Context, c.App.ErrWriter, "planning")
	plan, err := v.PlanShred(ctx, caseID, time.Now())
	finish()
	if err != nil {
		return err
	}
	if o.Format == "json" {
		return writeJSON(c.App.Writer, plan)
	}
	return renderPlan(c.App.Writer, plan)
}

func renderPlan(w io.Writer, plan *shred.Plan) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	printf(tw, "BACKUP\tACTION\tREASON\n")
	for _, it := range plan.Items {
		printf(tw, "%s\t%s\t%s\n", it.Backup.ID, it.Action, it.Reason)
		for _, warn := range it.Warnings {
			printf(tw, "\twarning\t%s\n", warn)
		}
		if h := it.StorageHold; h != nil {
			printf(tw, "\tstorage hold\t%s to %s, as the case's hold record says\n", h.From.Format(time.RFC3339), orDash(h.To))
		}
	}
	printf(tw, "case %s: %d to destroy, %d skipped, %d already done\n", plan.Case.ID,
		plan.Count(shred.ActionDestroy), plan.Count(shred.ActionSkip), plan.Count(shred.ActionDone))
	return tw.Flush()
}

func shredCancelAction(c *cli.Context) error {
	caseID, err := requireCase(c)
	if err != nil {
		return err
	}
	_, v, err := setup(c)
	if err != nil {
		return err
	}
	return runShredCancel(c.Context, v, caseID, c.App.Writer)
}

func runShredCancel(ctx context.Context, v *shred.Service, caseID string, w io.Writer) error {
	actor, err := v.WhoAmI(ctx)
	if err != nil {
		return err
	}
	ids, err := v.Cancel(ctx, actor, caseID)
	if err != nil {
		return err
	}
	printf(w, "cancelled the scheduled destruction of %d backup(s) of case %s: they are released again; "+
		"a plain shred run destroys them, shred run --grace schedules them again, and a Vault operator "+
		"closing a key's latch (deletion_allowed=false) lets hold place hold it again\n", len(ids), caseID)
	return nil
}

func orDash(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format(time.RFC3339)
}
