package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/urfave/cli/v2"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/attest/tsa"
	"github.com/cryptoshred/cryptoshred/internal/fsutil"
)

type verifyOptions struct {
	Files  []string // attest verify: every file given, each verified
	File   string
	Key    string
	Backup string
	Digest string
	Format string
	Trust  timeTrust
	// Witness and WitnessKey name a witness statement that must verify
	// with its own key and refer to this attestation.
	Witness, WitnessKey string
}

// timeTrust names the timestamping authorities a verifier trusts.
type timeTrust struct {
	Chains      []string
	TrustedRoot string
	Tolerance   time.Duration
	// Require fails, rather than warns, when the statement's times
	// disagree with the trusted time.
	Require bool
}

// timeTrustFlags are the flags of attest verify and attest show that name
// the trusted timestamping authorities.
func timeTrustFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "tsa-chain", Usage: "PEM `FILE` with a timestamping authority's chain, leaf first (repeatable): the bundle's timestamps must verify with it"},
		&cli.StringFlag{Name: "trusted-root", Usage: "Sigstore trusted_root.json `FILE` whose timestampAuthorities are trusted"},
		&cli.DurationFlag{Name: "time-tolerance", Usage: "warn when the statement's times and the trusted time differ by more than this", Value: attest.DefaultTimeTolerance},
		&cli.BoolFlag{Name: "require-trusted-time", Usage: "fail (exit 5) instead of warning when the statement's times and the trusted time differ by more than --time-tolerance; needs --tsa-chain or --trusted-root"},
	}
}

func timeTrustFrom(c *cli.Context) (timeTrust, error) {
	tt := timeTrust{Chains: c.StringSlice("tsa-chain"), TrustedRoot: c.String("trusted-root"), Tolerance: c.Duration("time-tolerance"),
		Require: c.Bool("require-trusted-time")}
	switch {
	case tt.Tolerance <= 0:
		return tt, usagef("--time-tolerance must be positive")
	case tt.Require && len(tt.Chains) == 0 && tt.TrustedRoot == "":
		return tt, usagef("--require-trusted-time needs the authority's chain (--tsa-chain or --trusted-root)")
	}
	return tt, nil
}

// authorities reads the trusted timestamping authorities.
func (tt timeTrust) authorities() ([]tsa.Authority, error) {
	var out []tsa.Authority
	for _, path := range tt.Chains {
		b, err := readFileLimited(path, 1<<20)
		if err != nil {
			return nil, err
		}
		a, err := tsa.ParseChainPEM(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, a)
	}
	if tt.TrustedRoot != "" {
		b, err := readFileLimited(tt.TrustedRoot, 4<<20)
		if err != nil {
			return nil, err
		}
		as, err := tsa.ParseTrustedRoot(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", tt.TrustedRoot, err)
		}
		out = append(out, as...)
	}
	return out, nil
}

func (tt timeTrust) verifyOptions(digest string) (attest.VerifyOptions, error) {
	auths, err := tt.authorities()
	return attest.VerifyOptions{SubjectDigest: digest, Authorities: auths, TimeTolerance: tt.Tolerance, RequireTrustedTime: tt.Require}, err
}

func attestVerifyCommand() *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "verify attestations (DSSE envelopes or Sigstore bundles) offline and print each check; exit 5 if any fails",
		ArgsUsage: "FILE...",
		Description: "Each FILE is verified in turn with the same --key (and --backup or --digest); the command " +
			"exits 5 if any of them fails, after reporting them all.\n" +
			"A bundle's RFC 3161 timestamps are verified when the authority's chain is given " +
			"(--tsa-chain or --trusted-root); the trusted time is then printed, and a warning when the statement's times disagree with it " +
			"(a failed check, exit 5, with --require-trusted-time).",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "key", Usage: "the signer's public key (PEM) (required)"},
			&cli.StringFlag{Name: "backup", Usage: "a backup ciphertext file that must be a subject"},
			&cli.StringFlag{Name: "digest", Usage: "a SHA-256 that must be a subject's digest"},
			&cli.StringFlag{Name: "witness", Usage: "a witness statement (attest witness) that must verify and refer to this attestation"},
			&cli.StringFlag{Name: "witness-key", Usage: "the witness's public key (PEM)"},
		}, timeTrustFlags()...),
		Action: func(c *cli.Context) error {
			if err := requireArgs(c, 1, "FILE"); err != nil {
				return err
			}
			trust, err := timeTrustFrom(c)
			if err != nil {
				return err
			}
			opts := verifyOptions{Files: c.Args().Slice(), Key: c.String("key"), Backup: c.String("backup"),
				Digest: c.String("digest"), Format: c.String("format"), Trust: trust,
				Witness: c.String("witness"), WitnessKey: c.String("witness-key")}
			if opts.Key == "" || (opts.Backup != "" && opts.Digest != "") {
				return usagef("attest verify needs --key, and at most one of --backup and --digest")
			}
			if _, err := globalOpts(c); err != nil {
				return err
			}
			return runAttestVerify(c.Context, opts, c.App.Writer)
		},
	}
}

// runAttestVerify verifies every file of opts.Files, reporting each; one
// that fails makes the whole command fail, after all are reported. Parts
// of an attestation issued in parts are then checked together: given
// several, they must be every part of one attestation.
func runAttestVerify(ctx context.Context, opts verifyOptions, w io.Writer) error {
	if len(opts.Files) <= 1 {
		if len(opts.Files) == 1 {
			opts.File = opts.Files[0]
		}
		_, err := verifyOne(ctx, opts, w)
		return err
	}
	var failed []error
	var parts []attest.PartSummary
	for i, f := range opts.Files {
		if i > 0 && opts.Format != "json" {
			printf(w, "\n")
		}
		if opts.Format != "json" {
			printf(w, "%s:\n", f)
		}
		opts.File = f
		rep, err := verifyOne(ctx, opts, w)
		if err != nil {
			if opts.Format != "json" {
				printf(w, "FAILED: %s: %v\n", f, err)
			}
			failed = append(failed, err)
		} else if rep.Statement.Predicate.Part != nil {
			parts = append(parts, attest.Summarize(rep.Statement))
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d attestation(s) failed: %w", len(failed), len(opts.Files), errors.Join(failed...))
	}
	return checkPartSet(parts, opts.Format, w)
}

// checkPartSet checks that parts, when more than one was given, are every
// part of one attestation, and reports the total.
func checkPartSet(parts []attest.PartSummary, format string, w io.Writer) error {
	if len(parts) < 2 {
		return nil
	}
	set, err := attest.CheckPartSummaries(parts)
	if format == "json" && err != nil {
		if jerr := writeJSON(w, attest.Check{Name: attest.CheckPartSet, Detail: errors.Unwrap(err).Error()}); jerr != nil {
			return jerr
		}
		return err
	}
	if format == "json" {
		return writeJSON(w, set)
	}
	printf(w, "\n")
	if err != nil {
		printf(w, "FAIL  %-15s %v\n", attest.CheckPartSet, errors.Unwrap(err))
		return err
	}
	printf(w, "PASS  %-15s parts 1 to %d of attestation %s, one each, id ranges apart\n", attest.CheckPartSet, set.Parts, set.AttestationID)
	printf(w, "VERIFIED: attestation %s of case %s complete: %d backups in %d parts\n", set.AttestationID, set.Case, set.Backups, set.Parts)
	return nil
}

func verifyOne(ctx context.Context, opts verifyOptions, w io.Writer) (*attest.Report, error) {
	env, verifier, err := loadForVerify(opts)
	if err != nil {
		return nil, err
	}
	digest := opts.Digest
	if opts.Backup != "" {
		if digest, _, err = fsutil.FileSHA256(opts.Backup); err != nil {
			return nil, err
		}
	}
	vopts, err := opts.Trust.verifyOptions(digest)
	if err != nil {
		return nil, err
	}
	rep, verr := attest.Verify(ctx, env, verifier, vopts)
	if rep == nil {
		return nil, verr
	}
	if verr == nil && opts.Witness != "" {
		verr = addWitnessCheck(ctx, rep, env, opts)
	}
	if err := renderReport(w, opts.Format, rep); err != nil {
		return rep, err
	}
	return rep, verr
}

// addWitnessCheck verifies the witness and adds it to rep's checks; one
// that fails leaves rep without its statement, as a failed check does,
// so nothing is reported verified.
func addWitnessCheck(ctx context.Context, rep *attest.Report, env []byte, opts verifyOptions) error {
	c, err := verifyWitness(ctx, env, opts.Witness, opts.WitnessKey)
	if c.Name != "" {
		rep.Checks = append(rep.Checks, c)
	}
	if err != nil {
		rep.Statement = nil
	}
	return err
}

func loadForVerify(opts verifyOptions) ([]byte, signature.Verifier, error) {
	f, err := os.Open(opts.File)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	env, err := attest.ReadEnvelope(f)
	if err != nil {
		return nil, nil, err
	}
	pub, err := readFileLimited(opts.Key, 64<<10)
	if err != nil {
		return nil, nil, err
	}
	v, err := attest.LoadVerifier(pub)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", opts.Key, err)
	}
	return env, v, nil
}

func renderReport(w io.Writer, format string, rep *attest.Report) error {
	if format == "json" {
		return writeJSON(w, rep)
	}
	for _, c := range rep.Checks {
		printf(w, "%-5s %-15s %s\n", passFail(c.Passed), c.Name, c.Detail)
	}
	for _, warn := range rep.Warnings {
		printf(w, "WARN  %s\n", warn)
	}
	for _, tt := range rep.TrustedTimes {
		printf(w, "TIME  %s (RFC 3161 timestamp by %s, serial %s)\n", tt.Time.Format(time.RFC3339), tt.Authority, tt.Serial)
	}
	if !rep.OK() {
		return nil
	}
	p := rep.Statement.Predicate
	if p.Part == nil {
		printf(w, "VERIFIED: attestation %s, %d backup(s), signed by key %s, %s\n",
			p.AttestationID, len(p.Backups), rep.KeyFingerprint, trustedTimeSummary(rep))
		return nil
	}
	printf(w, "VERIFIED: part %d of %d of attestation %s, %d backup(s) (%s to %s), signed by key %s, %s\n",
		p.Part.Index, p.Part.Of, p.AttestationID, len(p.Backups), p.Part.First, p.Part.Last, rep.KeyFingerprint, trustedTimeSummary(rep))
	printf(w, "PART  this is part %d of %d: the attestation is complete only with all %d parts (verify them together)\n", p.Part.Index, p.Part.Of, p.Part.Of)
	return nil
}

func trustedTimeSummary(rep *attest.Report) string {
	if len(rep.TrustedTimes) == 0 {
		return "no trusted time verified"
	}
	return fmt.Sprintf("trusted time %s", rep.TrustedTimes[0].Time.Format(time.RFC3339))
}

func passFail(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}
