package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/audit"
)

func reportCommand() *cli.Command {
	return &cli.Command{
		Name:  "report",
		Usage: "reports from the ledger and Vault's audit log",
		Subcommands: []*cli.Command{{
			Name:      "access",
			ArgsUsage: "[--vault-audit-log LOG [LOG...]]",
			Usage:     "who opened which backup, when, and why; with --vault-audit-log, every unwrap of a backup key and whether a recorded purpose accounts for it",
			Description: "Without --vault-audit-log: the opens recorded in the ledger.\n\n" +
				"With --vault-audit-log FILE...: reads Vault file-audit-device logs (JSON lines; rotated files\n" +
				"in any order; gzip-compressed ones too) and lists every Transit decrypt, rewrap or datakey\n" +
				"request on a key bk-<id>, unaccounted ones first. RULE says what accounts for it: header\n" +
				"(the request named the ledger entry of the open in X-Cryptoshred-Ledger-Entry), time+identity\n" +
				"(an open of that backup by the same Vault identity was recorded within --match-window before\n" +
				"it), or none. " + audit.Counting + ".",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "since", Usage: "only accesses since: a span (18mo, 90d, 2w, 36h) or an RFC 3339 time or date"},
				&cli.StringFlag{Name: "format", Usage: "output format: text, json or csv"},
				&cli.StringSliceFlag{Name: "vault-audit-log", Usage: "Vault file audit log to reconcile with the ledger (repeat, or give more files as arguments)"},
				&cli.BoolFlag{Name: "fail-on-unrecorded", Usage: "exit 5 if any unwrap lacks a recorded purpose (needs --vault-audit-log)"},
				&cli.DurationFlag{Name: "match-window", Value: audit.DefaultWindow, Usage: "how long before an unwrap without the ledger header its open may have been recorded, and before the logs' first line any open may have been written to count"},
			},
			Action: reportAccessAction,
		}},
	}
}

// accessOptions are report access's settings.
type accessOptions struct {
	Since       time.Time
	Logs        []string
	FailOnUnrec bool
	Window      time.Duration
}

func reportAccessAction(c *cli.Context) error {
	ao, err := accessOpts(c)
	if err != nil {
		return err
	}
	o, v, err := setup(c)
	if err != nil {
		return err
	}
	if len(ao.Logs) > 0 {
		return runReportUnwraps(c.Context, o, v, ao, c.App.Writer)
	}
	return runReportAccess(c.Context, o, v, ao.Since, c.App.Writer)
}

func accessOpts(c *cli.Context) (accessOptions, error) {
	ao := accessOptions{Logs: append(c.StringSlice("vault-audit-log"), c.Args().Slice()...),
		FailOnUnrec: c.Bool("fail-on-unrecorded"), Window: c.Duration("match-window")}
	if s := c.String("since"); s != "" {
		since, err := parseSince(s, time.Now())
		if err != nil {
			return ao, usagef("%v", err)
		}
		ao.Since = since
	}
	switch {
	case c.NArg() > 0 && len(c.StringSlice("vault-audit-log")) == 0:
		return ao, usagef("%s: unexpected argument %q (audit logs are given with --vault-audit-log)", commandName(c), c.Args().First())
	case ao.FailOnUnrec && len(ao.Logs) == 0:
		return ao, usagef("--fail-on-unrecorded needs --vault-audit-log")
	case ao.Window <= 0:
		return ao, usagef("--match-window must be positive")
	}
	return ao, nil
}

func runReportAccess(ctx context.Context, o globalOptions, v *shred.Service, from time.Time, w io.Writer) error {
	accesses, err := v.AccessReport(ctx, from)
	if err != nil {
		return err
	}
	switch o.Format {
	case "json":
		return writeJSON(w, nonNil(accesses))
	case "csv":
		rows := [][]string{{"time", "who", "backup", "purpose", "ledger_seq", "ledger_hash", "output"}}
		for _, a := range accesses {
			rows = append(rows, []string{a.At.Format(time.RFC3339Nano), a.Who, a.Backup, a.Purpose, strconv.FormatInt(a.Seq, 10), a.Hash, a.Output})
		}
		return writeCSV(w, rows)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	printf(tw, "WHEN\tWHO\tBACKUP\tPURPOSE\tOUTPUT\n")
	for _, a := range accesses {
		printf(tw, "%s\t%s\t%s\t%s\t%s\n", a.At.Format(time.RFC3339), a.Who, a.Backup, strconv.Quote(a.Purpose), dash(a.Output))
	}
	return tw.Flush()
}

// runReportUnwraps reads the audit logs, reconciles them with the ledger
// and renders the report; with --fail-on-unrecorded an unaccounted unwrap
// is an error wrapping audit.ErrUnrecorded (exit 5), after the report.
func runReportUnwraps(ctx context.Context, o globalOptions, v *shred.Service, ao accessOptions, w io.Writer) error {
	log := audit.NewLog(audit.Mounts{Transit: o.TransitMount, KV: o.KVMount}, ao.Since)
	for _, name := range ao.Logs {
		if err := readAuditLog(ctx, log, name); err != nil {
			return err
		}
	}
	rep, err := v.ReconcileUnwraps(ctx, log, audit.Options{Window: ao.Window})
	if err != nil {
		return err
	}
	if err := renderUnwraps(w, o.Format, rep); err != nil {
		return err
	}
	if ao.FailOnUnrec {
		return rep.Check()
	}
	return nil
}

func readAuditLog(ctx context.Context, log *audit.Log, name string) error {
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("failed to open the audit log: %w", err)
	}
	defer f.Close()
	if err := log.Read(ctx, f); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

func renderUnwraps(w io.Writer, format string, rep *audit.Report) error {
	switch format {
	case "json":
		rep.Findings = nonNil(rep.Findings)
		return writeJSON(w, rep)
	case "csv":
		return writeCSV(w, unwrapRows(rep))
	}
	return writeUnwrapsText(w, rep)
}

func writeUnwrapsText(w io.Writer, rep *audit.Report) error {
	st := rep.Log
	printf(w, "Vault audit log: %d file(s), %d lines from %s to %s; %d garbage line(s) skipped\n",
		st.Files, st.Lines, timeOrDash(st.From), timeOrDash(st.To), st.Garbage)
	if st.Unreadable > 0 {
		printf(w, "UNREADABLE: %d line(s) or file(s) could not be read (too long, not text, or not an audit entry while naming the Transit mount); an unwrap among them is not counted\n", st.Unreadable)
	}
	printf(w, "Backup key unwraps: %d (%d without a recorded purpose); %d failed request(s) not listed; %d unanswered\n",
		len(rep.Findings), rep.Unaccounted, st.Failed, st.Unanswered)
	printf(w, "Counting: %s.\n\n", rep.Counting)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	printf(tw, "PURPOSE?\tRULE\tWHEN\tOP\tBACKUP\tWHO\tFROM\tLEDGER\tPURPOSE\n")
	for _, f := range rep.Findings {
		printf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", recordedWord(f), f.Rule, f.Time.Format(time.RFC3339),
			f.Operation, f.Backup, unwrapIdentity(f.Unwrap), dash(f.RemoteAddress), ledgerRef(f), purposeOrNote(f))
	}
	return tw.Flush()
}

func recordedWord(f audit.Finding) string {
	if f.Accounted() {
		return "recorded"
	}
	return "NONE"
}

func unwrapIdentity(u audit.Unwrap) string {
	who := u.DisplayName
	if u.EntityID != "" {
		who += " (entity " + u.EntityID + ")"
	}
	if len(u.Policies) > 0 {
		who += " [" + strings.Join(u.Policies, ",") + "]"
	}
	return who
}

func ledgerRef(f audit.Finding) string {
	if f.LedgerSeq == 0 {
		return "-"
	}
	return "#" + strconv.FormatInt(f.LedgerSeq, 10)
}

func purposeOrNote(f audit.Finding) string {
	switch {
	case f.Accounted():
		return strconv.Quote(f.Purpose)
	case f.Note != "":
		return "(" + f.Note + ")"
	case f.Outcome == audit.OutcomeUnanswered:
		return "(no response in the log: may have succeeded)"
	}
	return "-"
}

func timeOrDash(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format(time.RFC3339)
}

func unwrapRows(rep *audit.Report) [][]string {
	rows := [][]string{{"recorded_purpose", "rule", "time", "operation", "backup", "display_name", "entity_id",
		"policies", "remote_address", "outcome", "request_id", "ledger_seq", "ledger_hash", "ledger_time", "purpose", "note"}}
	for _, f := range rep.Findings {
		seq, at := "", ""
		if f.LedgerSeq > 0 {
			seq, at = strconv.FormatInt(f.LedgerSeq, 10), f.LedgerAt.Format(time.RFC3339Nano)
		}
		rows = append(rows, []string{strconv.FormatBool(f.Accounted()), f.Rule, f.Time.Format(time.RFC3339Nano),
			f.Operation, f.Backup, f.DisplayName, f.EntityID, strings.Join(f.Policies, ";"), f.RemoteAddress,
			f.Outcome, f.RequestID, seq, f.LedgerHash, at, f.Purpose, f.Note})
	}
	return rows
}
