package main

import (
	"context"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cryptoshred/cryptoshred/shred"
)

func ledgerCommand() *cli.Command {
	return &cli.Command{
		Name:  "ledger",
		Usage: "show and verify the hash-chained ledger of every state change",
		Subcommands: []*cli.Command{
			{Name: "verify", Usage: "walk the chain; exit 5 naming the first bad entry", Action: ledgerVerifyAction},
			{Name: "show", Usage: "print every entry (after verifying the chain)", Action: ledgerShowAction},
		},
	}
}

func ledgerVerifyAction(c *cli.Context) error {
	o, v, err := setup(c)
	if err != nil {
		return err
	}
	return runLedgerVerify(c.Context, o, v, c.App.Writer)
}

func runLedgerVerify(ctx context.Context, o globalOptions, v *shred.Service, w io.Writer) error {
	rep, err := v.VerifyLedger(ctx)
	if o.Format == "json" {
		if jerr := writeJSON(w, rep); jerr != nil {
			return jerr
		}
		return err
	}
	if err != nil {
		if rep.FirstBad > 0 {
			printf(w, "ledger BROKEN at entry %d: %s\n", rep.FirstBad, rep.Problem)
		}
		for _, f := range rep.Findings {
			printf(w, "ledger FINDING: %s\n", f)
		}
		return err
	}
	printf(w, "ledger OK: %d entries, every link verified, head %s\n", rep.Entries, rep.Head)
	return nil
}

func ledgerShowAction(c *cli.Context) error {
	o, v, err := setup(c)
	if err != nil {
		return err
	}
	entries, err := v.Entries(c.Context)
	if err != nil {
		return err
	}
	if o.Format == "json" {
		return writeJSON(c.App.Writer, nonNil(entries))
	}
	for _, e := range entries {
		printf(c.App.Writer, "%6d  %s  %-22s %s%s%s\n", e.Seq, e.Time.Format(time.RFC3339), e.Kind, e.Actor,
			caseSuffix(e.Case), backupsSuffix(e.Backups)+detailsSuffix(e.Details))
	}
	return nil
}

func caseSuffix(c string) string {
	if c == "" {
		return ""
	}
	return " case=" + c
}

func backupsSuffix(ids []string) string {
	switch len(ids) {
	case 0:
		return ""
	case 1:
		return " backup=" + ids[0]
	}
	return " backups=" + ids[0] + ",...(" + strconv.Itoa(len(ids)) + ")"
}

func detailsSuffix(d map[string]string) string {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(" " + k + "=" + strconv.Quote(d[k]))
	}
	return b.String()
}
