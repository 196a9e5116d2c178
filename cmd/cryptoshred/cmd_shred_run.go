package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/urfave/cli/v2"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/attest/tsa"
	"github.com/cryptoshred/cryptoshred/internal/fsutil"
	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/audit"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
)

type shredRunOptions struct {
	Case                     string
	Grace                    time.Duration
	Yes                      bool
	Parallel                 int
	RequireOriginalsDisposed bool
	SignKey                  string
	Output                   string
	SnapshotRetention        time.Duration
	Operator                 string
	Bundle                   string
	TimestampURLs            []string
	TimestampTimeout         time.Duration
	AuditLogs                []string
	PartSize                 int
}

func shredRunCommand() *cli.Command {
	return &cli.Command{
		Name:  "run",
		Usage: "destroy the keys of the case's released backups, verify, delete ciphertext, record",
		Description: "Without --grace it destroys what is due now. With --grace it schedules destruction " +
			"(state pending, cancellable with shred cancel); a later shred run destroys what is due.\n" +
			"Exit 0 all done, 3 partial, 4 refused (case not closed, nothing released).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "case", Usage: "the closed case (required)"},
			&cli.StringFlag{Name: "grace", Usage: "schedule destruction after this grace period instead of now (30d, 2w, 72h)"},
			&cli.BoolFlag{Name: "yes", Usage: "do not ask for confirmation"},
			&cli.IntFlag{Name: "parallel", Usage: "backups destroyed at once", Value: shred.DefaultParallel},
			&cli.BoolFlag{Name: "require-originals-disposed", Usage: "skip backups whose plaintext original's disposal is not recorded"},
			&cli.StringFlag{Name: "sign-key", Usage: "attestation signing key: a PEM file or hashivault://NAME (required without --grace)", EnvVars: []string{"CRYPTOSHRED_SIGN_KEY"}},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "attestation file (default ./ATTESTATION-ID.dsse.json)"},
			&cli.StringFlag{Name: "vault-snapshot-retention", Usage: "how long Vault snapshots are kept, e.g. 30d or 720h: they hold destroyed keys until then (required without --grace)",
				EnvVars: []string{"CRYPTOSHRED_VAULT_SNAPSHOT_RETENTION"}},
			&cli.StringFlag{Name: "operator", Usage: "operator name for the attestation (the Vault identity is always recorded)"},
			&cli.StringFlag{Name: "bundle", Usage: "also write the attestation as a Sigstore bundle v0.3 to this file (what cosign --bundle reads)"},
			&cli.StringSliceFlag{Name: "timestamp-url", Usage: "RFC 3161 timestamping authority `URL` whose timestamp over the signature goes in the bundle (repeatable; tried before any key is destroyed)"},
			&cli.DurationFlag{Name: "timestamp-timeout", Usage: "time limit of one request to a timestamping authority", Value: tsa.DefaultTimeout},
			&cli.IntFlag{Name: "part-size", Usage: "most backups one signed attestation part covers; a larger case is attested in parts (-o FILE, FILE.part-0002..., FILE.index.json)", Value: attest.DefaultPartSize},
			&cli.StringSliceFlag{Name: "vault-audit-log", Usage: "Vault file-audit log `FILE` (repeatable; gzip and rotated files too): each backup's unwraps in it, and those without a recorded purpose, go into the attestation; a log with lines that cannot be read is refused"},
		},
		Action: shredRunAction,
	}
}

func shredRunAction(c *cli.Context) error {
	caseID, err := requireCase(c)
	if err != nil {
		return err
	}
	opts := shredRunOptions{Case: caseID, Yes: c.Bool("yes"),
		Parallel: c.Int("parallel"), RequireOriginalsDisposed: c.Bool("require-originals-disposed"),
		SignKey: c.String("sign-key"), Output: c.String("output"), Operator: c.String("operator"),
		Bundle: c.String("bundle"), TimestampURLs: c.StringSlice("timestamp-url"), TimestampTimeout: c.Duration("timestamp-timeout"),
		AuditLogs: c.StringSlice("vault-audit-log"), PartSize: c.Int("part-size")}
	if err := opts.parseDurations(c.String("grace"), c.String("vault-snapshot-retention")); err != nil {
		return err
	}
	if err := opts.validate(); err != nil {
		return err
	}
	if !opts.Yes && !isTerminal(c.App.Reader) {
		return usagef("shred run destroys keys: pass --yes when stdin is not a terminal")
	}
	if err := opts.checkOutputs(1); err != nil { // the names of more parts once the plan says how many
		return err
	}
	o, v, err := setup(c)
	if err != nil {
		return err
	}
	return runShred(c.Context, o, v, opts, c.App.Reader, c.App.Writer, c.App.ErrWriter)
}

// parseDurations reads --grace and --vault-snapshot-retention, which
// accept days (30d) as well as Go durations.
func (o *shredRunOptions) parseDurations(grace, retention string) error {
	var err error
	if grace != "" {
		if o.Grace, err = parseDuration("grace", grace); err != nil {
			return usagef("%v", err)
		}
	}
	if retention != "" {
		if o.SnapshotRetention, err = parseDuration("vault-snapshot-retention", retention); err != nil {
			return usagef("%v", err)
		}
	}
	return nil
}

func (o shredRunOptions) validate() error {
	switch {
	case o.Parallel < 1 || o.Parallel > 256:
		return usagef("--parallel must be 1 to 256")
	case o.Grace < 0:
		return usagef("--grace must not be negative")
	case o.Grace == 0 && o.SignKey == "":
		return usagef("shred run needs --sign-key to sign the deletion attestation")
	case o.Grace == 0 && o.SnapshotRetention <= 0:
		return usagef("shred run needs --vault-snapshot-retention: snapshots keep destroyed keys until then, and the attestation must say so")
	case len(o.TimestampURLs) > 0 && o.Bundle == "":
		return usagef("--timestamp-url needs --bundle: timestamps are carried in the Sigstore bundle")
	case len(o.TimestampURLs) > 8:
		return usagef("at most 8 --timestamp-url")
	case o.TimestampTimeout <= 0:
		return usagef("--timestamp-timeout must be positive")
	case o.PartSize < 1 || o.PartSize > attest.MaxPartSize:
		return usagef("--part-size must be 1 to %d", attest.MaxPartSize)
	}
	_, err := o.timestampers()
	return err
}

// checkOutputs refuses, before anything is destroyed, output files that
// could not be written afterwards, for an attestation of parts parts: two
// outputs naming one file, a file that exists, a directory that does not
// exist or takes no new file. A run that only schedules writes nothing.
func (o shredRunOptions) checkOutputs(parts int) error {
	if o.Grace > 0 {
		return nil
	}
	files := &partFiles{Out: o.Output, Bundle: o.Bundle}
	if err := checkNewOutputs(files.outputs(max(parts, 1))); err != nil {
		return err
	}
	if o.Output == "" {
		if err := fsutil.CheckDirCreatable("."); err != nil {
			return fmt.Errorf("cannot create the attestation file ATTESTATION-ID.dsse.json (give another with -o): %w", err)
		}
	}
	return nil
}

// timestampers returns a client for each --timestamp-url.
func (o shredRunOptions) timestampers() ([]shred.Timestamper, error) {
	var out []shred.Timestamper
	for _, u := range o.TimestampURLs {
		c, err := tsa.NewClient(u, o.TimestampTimeout)
		if err != nil {
			return nil, usagef("--timestamp-url: %v", err)
		}
		out = append(out, c)
	}
	return out, nil
}

func runShred(ctx context.Context, o globalOptions, v *shred.Service, opts shredRunOptions, stdin io.Reader, stdout, stderr io.Writer) error {
	actor, err := v.WhoAmI(ctx)
	if err != nil {
		return err
	}
	noteDefaultPolicy(actor, stderr)
	// The plan and the run share one read of each write-once registration.
	ctx = catalog.WithRegistrationCache(ctx)
	planCtx, finish := withProgressBar(ctx, stderr, "planning")
	plan, err := v.PlanShred(planCtx, opts.Case, time.Now())
	finish()
	if err != nil {
		return err
	}
	if err := opts.checkOutputs(plan.MostAttestationParts()); err != nil {
		return fmt.Errorf("%w; %s", err, plan.DestroyedNothing())
	}
	if !opts.Yes {
		if err := confirmPlan(ctx, plan, stdin, stderr); err != nil {
			return err
		}
	} else {
		printPlanWarnings(plan, stderr)
	}
	if opts.Grace > 0 {
		return runSchedule(ctx, v, actor, opts, stdout)
	}
	// The signer is loaded and tried, and the attestation checked, before
	// anything is destroyed, so the run stops while it can still change
	// its mind.
	signer, err := loadSigner(ctx, opts.SignKey, o, stderr)
	if err != nil {
		return err
	}
	if opts.Operator == "" {
		printf(stderr, "note: no --operator: the certificate names only the Vault identity %s as the person performing sanitization\n", actor.String())
	}
	return runPlan(ctx, o, v, actor, plan, signer, opts, stdout, stderr)
}

// runPlan runs the confirmed plan, prints what it did and writes the
// attestation it issued, each part as soon as it is stored.
func runPlan(ctx context.Context, o globalOptions, v *shred.Service, actor shred.Actor, plan *shred.Plan, signer signature.Signer, opts shredRunOptions, stdout, stderr io.Writer) error {
	attestOpts, err := attestOptions(signer, opts)
	if err != nil {
		return err
	}
	if attestOpts.Audit, err = auditReport(ctx, o, v, opts.AuditLogs); err != nil {
		return fmt.Errorf("%w; %s", err, plan.DestroyedNothing())
	}
	files := &partFiles{Case: plan.Case.ID, Out: opts.Output, Bundle: opts.Bundle}
	attestOpts.Parts, attestOpts.DiscardWritten = files, true
	keepToken(ctx, v, stderr)
	update, finish := progressUpdater(stderr, "shredding")
	res, err := v.Run(ctx, actor, plan, shred.RunOptions{Parallel: opts.Parallel,
		RequireOriginalsDisposed: opts.RequireOriginalsDisposed, Progress: update, Attest: attestOpts})
	finish()
	if res == nil {
		return err
	}
	if rerr := renderRun(o, res, stdout, stderr); rerr != nil {
		return rerr
	}
	if a := res.Attestation; a != nil && len(files.index.Parts) == len(a.Parts) {
		return errors.Join(err, reportAttestationFiles(a, files, stderr))
	}
	if res.Attestation == nil {
		for _, name := range files.removeWritten() {
			printf(stderr, "removed %s: a part of the attestation that could not be completed\n", name)
		}
	}
	return err
}

// reportAttestationFiles says where the attestation's files went, after
// writing the index of one issued in parts.
func reportAttestationFiles(a *shred.Attestation, files *partFiles, stderr io.Writer) error {
	if len(a.Parts) == 1 {
		fmt.Fprintf(stderr, "attestation %s covering %d backup(s) written to %s and stored in Vault\n", a.ID, a.Backups, files.Out)
		if files.Bundle != "" {
			fmt.Fprintf(stderr, "Sigstore bundle of attestation %s with %d RFC 3161 timestamp(s) written to %s\n", a.ID, a.Timestamps, files.Bundle)
		}
		return nil
	}
	index, err := files.writeIndex()
	if err != nil {
		return fmt.Errorf("attestation %s is stored in Vault but its files could not all be written: %w", a.ID, err)
	}
	last := len(a.Parts)
	fmt.Fprintf(stderr, "attestation %s covering %d backup(s) in %d parts written to %s to %s (index %s) and stored in Vault\n",
		a.ID, a.Backups, len(a.Parts), files.Out, attest.PartFileName(files.Out, last), index)
	if files.Bundle != "" {
		fmt.Fprintf(stderr, "Sigstore bundles of the %d parts with %d RFC 3161 timestamp(s) each written to %s to %s\n",
			len(a.Parts), a.Timestamps, files.Bundle, attest.PartFileName(files.Bundle, last))
	}
	return nil
}

func confirmPlan(ctx context.Context, plan *shred.Plan, stdin io.Reader, stderr io.Writer) error {
	if err := renderPlan(stderr, plan); err != nil {
		return err
	}
	if !confirm(ctx, stdin, stderr, "Destroy these keys for good?", plan.Case.ID) {
		return &shred.RefusedError{Reason: "not confirmed: " + plan.DestroyedNothing()}
	}
	return nil
}

func runSchedule(ctx context.Context, v *shred.Service, actor shred.Actor, opts shredRunOptions, w io.Writer) error {
	ids, err := v.Schedule(ctx, actor, opts.Case, opts.Grace)
	if err != nil {
		return err
	}
	printf(w, "scheduled %d backup(s) of case %s for destruction after %s (cancel with: cryptoshred shred cancel --case %s)\n",
		len(ids), opts.Case, time.Now().Add(opts.Grace).UTC().Format(time.RFC3339), opts.Case)
	return nil
}

// renderRun prints the result, and always a summary line on stderr.
func renderRun(o globalOptions, res *shred.RunResult, stdout, stderr io.Writer) error {
	if o.Format == "json" {
		if err := writeJSON(stdout, res); err != nil {
			return err
		}
	} else {
		for _, b := range res.Destroyed {
			printf(stdout, "destroyed %s key %s (verified gone), ciphertext deleted: %t\n", b.ID, b.Key, b.Destruction.CiphertextDeleted)
		}
	}
	for _, f := range res.Failed {
		printf(stderr, "failed %s: %v\n", f.ID, f.Err)
	}
	printUnlisted(stderr, "left out of the attestation:", res.LeftOut)
	elsewhere := ""
	if res.ListedElsewhere > 0 {
		elsewhere = fmt.Sprintf(" (%d more listed by another run)", res.ListedElsewhere)
	}
	fmt.Fprintf(stderr, "case %s: %d destroyed%s, %d skipped, %d failed%s%s\n", res.Case, len(res.Destroyed), elsewhere, len(res.Skipped), len(res.Failed),
		unrecordedNote(res), unconfirmedNote(res))
	return nil
}

// unconfirmedNote says, of a run that deleted keys and read them back as
// not found but could not confirm the transit mount after (an expired
// token, say), that those keys are most likely gone: they count as
// failed, but a re-run, not a new decision, finishes them.
func unconfirmedNote(res *shred.RunResult) string {
	if res.KeysUnconfirmed == 0 {
		return ""
	}
	return fmt.Sprintf("; %d key(s) deleted and read back as not found, but their absence is not confirmed (the transit mount could not be checked): run again to confirm, record and attest them",
		res.KeysUnconfirmed)
}

// unrecordedNote says, of a run that destroyed keys it could not all
// record, how many it destroyed and how many are not yet recorded: those
// count as failed, but their keys are gone for good.
func unrecordedNote(res *shred.RunResult) string {
	if res.KeysNotRecorded == 0 {
		return ""
	}
	return fmt.Sprintf("; this run destroyed %d key(s) (verified gone), %d of them not yet recorded (run again to record and attest them)",
		res.KeysDestroyed, res.KeysNotRecorded)
}

func attestOptions(signer signature.Signer, opts shredRunOptions) (shred.AttestOptions, error) {
	ts, err := opts.timestampers()
	return shred.AttestOptions{Signer: signer, SnapshotRetention: opts.SnapshotRetention, ToolVersion: version,
		Operator: opts.Operator, Timestampers: ts, PartSize: opts.PartSize}, err
}

// auditReport reads the audit logs, if any, and reconciles them with the
// ledger, for the attestation's keyUnwraps.audit. Logs with lines or
// files that could not be read are refused.
func auditReport(ctx context.Context, o globalOptions, v *shred.Service, files []string) (*audit.Report, error) {
	if len(files) == 0 {
		return nil, nil
	}
	log := audit.NewLog(audit.Mounts{Transit: o.TransitMount, KV: o.KVMount}, time.Time{})
	for _, name := range files {
		if err := readAuditLog(ctx, log, name); err != nil {
			return nil, err
		}
	}
	rep, err := v.ReconcileUnwraps(ctx, log, audit.Options{})
	if err != nil {
		return nil, err
	}
	// An unwrap without a recorded purpose is a fact the attestation
	// states; an unwrap in a line that could not be read is one it
	// cannot, so the run stops before it destroys anything.
	if n := rep.Log.Unreadable; n > 0 {
		return nil, fmt.Errorf("%d line(s) or file(s) of the Vault audit log could not be read (too long, not text, or not an audit entry while naming the Transit mount): "+
			"an unwrap among them would not be counted, so the attestation could not state every unwrap of the keys; see `cryptoshred report access --vault-audit-log`", n)
	}
	return rep, nil
}

// printPlanWarnings puts the plan's warnings on stderr, for an unattended
// run (--yes) that shows no plan: they must not be lost.
func printPlanWarnings(plan *shred.Plan, stderr io.Writer) {
	for _, it := range plan.Items {
		for _, w := range it.Warnings {
			printf(stderr, "warning: %s: %s\n", it.Backup.ID, w)
		}
	}
}
