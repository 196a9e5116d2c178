package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/urfave/cli/v2"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/internal/fsutil"
)

type verifyOptions struct {
	Files  []string // attest verify: every file given, each verified
	File   string
	Key    string
	Backup string
	Digest string
	Format string
}

func attestVerifyCommand() *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "verify attestations offline and print each check; exit 5 if any fails",
		ArgsUsage: "FILE...",
		Description: "Each FILE is verified in turn with the same --key (and --backup or --digest); the command " +
			"exits 5 if any of them fails, after reporting them all.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "key", Usage: "the signer's public key (PEM) (required)"},
			&cli.StringFlag{Name: "backup", Usage: "a backup ciphertext file that must be a subject"},
			&cli.StringFlag{Name: "digest", Usage: "a SHA-256 that must be a subject's digest"},
		},
		Action: func(c *cli.Context) error {
			if err := requireArgs(c, 1, "FILE"); err != nil {
				return err
			}
			opts := verifyOptions{Files: c.Args().Slice(), Key: c.String("key"), Backup: c.String("backup"),
				Digest: c.String("digest"), Format: c.String("format")}
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
// that fails makes the whole command fail, after all are reported.
func runAttestVerify(ctx context.Context, opts verifyOptions, w io.Writer) error {
	if len(opts.Files) <= 1 {
		if len(opts.Files) == 1 {
			opts.File = opts.Files[0]
		}
		return verifyOne(ctx, opts, w)
	}
	var failed []error
	for i, f := range opts.Files {
		if i > 0 && opts.Format != "json" {
			printf(w, "\n")
		}
		if opts.Format != "json" {
			printf(w, "%s:\n", f)
		}
		opts.File = f
		if err := verifyOne(ctx, opts, w); err != nil {
			if opts.Format != "json" {
				printf(w, "FAILED: %s: %v\n", f, err)
			}
			failed = append(failed, err)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d attestation(s) failed: %w", len(failed), len(opts.Files), errors.Join(failed...))
	}
	return nil
}

func verifyOne(ctx context.Context, opts verifyOptions, w io.Writer) error {
	env, verifier, err := loadForVerify(opts)
	if err != nil {
		return err
	}
	digest := opts.Digest
	if opts.Backup != "" {
		if digest, _, err = fsutil.FileSHA256(opts.Backup); err != nil {
			return err
		}
	}
	rep, verr := attest.Verify(ctx, env, verifier, attest.VerifyOptions{SubjectDigest: digest})
	if rep == nil {
		return verr
	}
	if err := renderReport(w, opts.Format, rep); err != nil {
		return err
	}
	return verr
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
	if rep.OK() {
		printf(w, "VERIFIED: attestation %s, %d backup(s), signed by key %s\n",
			rep.Statement.Predicate.AttestationID, len(rep.Statement.Predicate.Backups), rep.KeyFingerprint)
	}
	return nil
}

func passFail(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}
