package main

import (
	"context"
	"io"
	"slices"
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
					&cli.StringSliceFlag{Name: "key-fingerprint", Usage: "with --file: a role's published key `ROLE=sha256:HEX` (repeatable); every key the export carries must be one of them"},
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
	pins, err := keyPins(c.StringSlice("key-fingerprint"), c.String("file"))
	if err != nil {
		return err
	}
	src, verify, err := ledgerSource(c, c.String("file"))
	if err != nil {
		return err
	}
	return runLedgerVerify(c.Context, o, src, pins, cps, verify, c.App.Writer)
}

// keyPins reads --key-fingerprint, which only an export's keys need.
func keyPins(flags []string, file string) (ledger.Pins, error) {
	if len(flags) > 0 && file == "" {
		return nil, usagef("--key-fingerprint needs --file: it checks the keys an export carries")
	}
	pins := ledger.Pins{}
	for _, f := range flags {
		if err := pins.ParsePin(f); err != nil {
			return nil, usagef("--key-fingerprint: %v", err)
		}
	}
	return pins, nil
}

// runLedgerVerify checks an export's keys against pins first, if any were
// given, then walks the chain.
func runLedgerVerify(ctx context.Context, o globalOptions, src ledger.Source, pins ledger.Pins, cps []ledger.Checkpoint,
	verify func(context.Context, []ledger.Checkpoint) (*ledger.Report, error), w io.Writer) error {
	rep, err := verifyPinned(ctx, src, pins, cps, verify)
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
	printLedgerOK(w, rep, exportCase(src))
	undigested := slices.ContainsFunc(cps, func(cp ledger.Checkpoint) bool { return cp.Slots == "" })
	switch {
	case len(cps) > 0 && rep.Redacted > 0 && undigested:
		printf(w, "every attested head (%d) is in this export's chain, but one naming no digest of the slots commits to no slot before a slot carried as a hash alone: "+
			"verify a whole-ledger export, or the ledger in Vault, to check the slots before it (this reads each attestation's ledger head without checking its signature: attest verify checks that)\n", len(cps))
	case len(cps) > 0:
		printf(w, "every attested head (%d) is still in the chain (this reads each attestation's ledger head without checking its signature: attest verify checks that)\n", len(cps))
	}
	return printKeyFingerprints(ctx, src, len(pins) > 0, w)
}

// verifyPinned refuses an export carrying a key not among pins, if any
// were given, before it verifies the chain.
func verifyPinned(ctx context.Context, src ledger.Source, pins ledger.Pins, cps []ledger.Checkpoint,
	verify func(context.Context, []ledger.Checkpoint) (*ledger.Report, error)) (*ledger.Report, error) {
	if len(pins) > 0 {
		keys, err := src.PublicKeys(ctx)
		if err == nil {
			err = keys.CheckPinned(pins)
		}
		if err != nil {
			return &ledger.Report{Problem: err.Error()}, err
		}
	}
	return verify(ctx, cps)
}

// printLedgerOK says what a verification that passed checked: an export
// of one case (caseID) carries other cases' entries as hashes alone.
func printLedgerOK(w io.Writer, rep *ledger.Report, caseID string) {
	if caseID == "" && rep.Redacted == 0 {
		printf(w, "ledger OK: %d entries, every link and signature verified, head %s\n", rep.Entries, rep.Head)
		return
	}
	printf(w, "ledger OK: export of case %s, %d entries, head %s; %d verified link by link and signature by signature; %d carried as hashes alone, "+
		"as an export of one case carries other cases' entries: whose they are, their content, signatures and links to the slot before them are not checked "+
		"(a whole-ledger export checks them)\n",
		caseID, rep.Entries, rep.Head, rep.Entries-rep.Redacted, rep.Redacted)
}

// exportCase returns the case an export was made for, "" for a
// whole-ledger export or the ledger in Vault.
func exportCase(src ledger.Source) string {
	if x, ok := src.(*ledger.Export); ok {
		return x.Case
	}
	return ""
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

// printKeyFingerprints shows the role keys an export was verified with,
// pinned or to compare with the fingerprints the operator published.
func printKeyFingerprints(ctx context.Context, src ledger.Source, pinned bool, w io.Writer) error {
	if src == nil {
		return nil
	}
	keys, err := src.PublicKeys(ctx)
	if err != nil {
		return err
	}
	for _, role := range ledger.Roles {
		for v, k := range keys[role] {
			printf(w, "verified with the %s key v%d %s (%s)\n", role, v, ledger.Fingerprint(k), pinNote(pinned))
		}
	}
	return nil
}

// pinNote says how a printed key fingerprint was checked.
func pinNote(pinned bool) string {
	if pinned {
		return "one of the fingerprints given"
	}
	return "compare it with the published fingerprint, or pass it with --key-fingerprint"
}
