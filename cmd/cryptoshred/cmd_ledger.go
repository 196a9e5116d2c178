package main

import (
	"context"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cryptoshred/cryptoshred/shred/ledger"
	"github.com/urfave/cli/v2"
)

func ledgerCommand() *cli.Command {
	return &cli.Command{
		Name:  "ledger",
		Usage: "show and verify the hash-chained ledger of every state change",
		Subcommands: []*cli.Command{
			{Name: "verify", Usage: "walk the chain and check every signature; exit 5 naming the first bad entry",
				Description: "--file verifies an export (cryptoshred ledger export) with no Vault and no network.\n" +
					"--attestation ATT checks that the ledger head each attestation names is still in the chain\n" +
					"(it is not after a Vault snapshot restore or a truncation).",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "file", Usage: "verify this export file instead of the ledger in Vault"},
					&cli.StringSliceFlag{Name: "attestation", Usage: "an attestation whose ledger head must still be in the chain (repeatable)"},
				},
				Action: ledgerVerifyAction},
			ledgerExportCommand(),
			{Name: "show", Usage: "print every entry (after verifying the chain)", Action: ledgerShowAction},
		},
	}
}

func ledgerVerifyAction(c *cli.Context) error {
	if err := noExtraArgs(c); err != nil {
		return err
	}
	o, err := globalOpts(c)
	if err != nil {
		return err
	}
	cps, err := attestedHeads(c.StringSlice("attestation"))
	if err != nil {
		return err
	}
	src, verify, err := ledgerSource(c, c.String("file"))
	if err != nil {
		return err
	}
	return runLedgerVerify(c.Context, o, src, cps, verify, c.App.Writer)
}

func runLedgerVerify(ctx context.Context, o globalOptions, src ledger.Source, cps []ledger.Checkpoint,
	verify func(context.Context, []ledger.Checkpoint) (*ledger.Report, error), w io.Writer) error {
	rep, err := verify(ctx, cps)
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
	printf(w, "ledger OK: %d entries, every link and signature verified, head %s\n", rep.Entries, rep.Head)
	if len(cps) > 0 {
		printf(w, "every attested head (%d) is still in the chain\n", len(cps))
	}
	return printKeyFingerprints(ctx, src, w)
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
		b.WriteString(" " + k + "=" + strconv.Quote(shortDetail(d[k])))
	}
	return b.String()
}

// shortDetail keeps a line of ledger show readable: a key.destroyed
// entry's digests of its destructions run to thousands of bytes.
func shortDetail(v string) string {
	const keep = 64
	if len(v) <= keep+16 {
		return v
	}
	return v[:keep] + "...(" + strconv.Itoa(len(v)-keep) + " more bytes)"
}

// printKeyFingerprints shows the role keys an export was verified with, to
// compare with the fingerprints the operator published.
func printKeyFingerprints(ctx context.Context, src ledger.Source, w io.Writer) error {
	if src == nil {
		return nil
	}
	keys, err := src.PublicKeys(ctx)
	if err != nil {
		return err
	}
	for _, role := range ledger.Roles {
		for v, k := range keys[role] {
			printf(w, "verified with the %s key v%d %s (compare it with the published fingerprint)\n", role, v, ledger.Fingerprint(k))
		}
	}
	return nil
}
