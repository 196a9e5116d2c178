package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/cryptoshred/cryptoshred/internal/safetext"
	"github.com/cryptoshred/cryptoshred/shred"
)

type verifyBackupsOptions struct {
	IDs  []string
	Case string
}

func backupVerifyCommand() *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "re-read and re-hash ciphertexts and report missing or changed ones",
		ArgsUsage: "ID... | --case C",
		Description: "Checks each ciphertext (a file, or an S3 object version) against the size and SHA-256 of its " +
			"write-once registration. A file system cannot hold a file, so run this on held backups.\n" +
			"Exit 0 all present and unchanged, 5 some missing or changed, 1 (or 4 when refused) some could not be checked\n" +
			"(Vault sealed or unreachable, an unknown id) and none missing or changed.",
		Flags: []cli.Flag{&cli.StringFlag{Name: "case", Usage: "every backup the case held"}},
		Action: func(c *cli.Context) error {
			opts := verifyBackupsOptions{IDs: c.Args().Slice(), Case: c.String("case")}
			if (len(opts.IDs) == 0) == (opts.Case == "") {
				return usagef("name backups to verify, or a --case, not both")
			}
			o, v, err := setup(c)
			if err != nil {
				return err
			}
			return runBackupVerify(c.Context, o, v, opts, c.App.Writer)
		},
	}
}

func runBackupVerify(ctx context.Context, o globalOptions, v *shred.Service, opts verifyBackupsOptions, w io.Writer) error {
	results, err := v.VerifyBackups(ctx, opts.IDs, opts.Case)
	if err != nil {
		return err
	}
	if o.Format == "json" {
		if err := writeJSON(w, nonNil(results)); err != nil {
			return err
		}
	} else {
		for _, r := range results {
			printf(w, "%-4s %s %s %s\n", passFail(r.OK), r.ID, r.Path, r.Problem)
		}
	}
	return verifyOutcome(results)
}

// verifyOutcome is the error of a backup verify run: ErrCiphertextChanged
// (exit 5, the tamper alarm) only when some ciphertext really is missing
// or changed. A backup that could not be checked (Vault sealed or
// unreachable, a refused token, an unknown id, a cancelled run) says
// nothing of its ciphertext: its error is returned as it is (exit 1, or 4
// when refused), and still reported beside a changed one.
func verifyOutcome(results []shred.VerifyResult) error {
	changed := 0
	var unchecked []error
	for _, r := range results {
		switch {
		case r.OK:
		case errors.Is(r.Err, shred.ErrCiphertextChanged):
			changed++
		default:
			err := r.Err
			if err == nil {
				err = errors.New(r.Problem)
			}
			unchecked = append(unchecked, oneLineError{err})
		}
	}
	var out []error
	if changed > 0 {
		out = append(out, fmt.Errorf("%d of %d ciphertext(s) missing or changed: %w", changed, len(results), shred.ErrCiphertextChanged))
	}
	if len(unchecked) > 0 {
		out = append(out, fmt.Errorf("%d of %d ciphertext(s) could not be verified: %w", len(unchecked), len(results), errors.Join(distinct(unchecked)...)))
	}
	return errors.Join(out...)
}

// distinct keeps the first of the errors with the same text: a sealed
// Vault fails every backup alike, and one line says so.
func distinct(errs []error) []error {
	seen := map[string]bool{}
	var out []error
	for _, err := range errs {
		if !seen[err.Error()] {
			seen[err.Error()] = true
			out = append(out, err)
		}
	}
	return out
}

// oneLineError is an error printed on one line: the reason a backup could
// not be verified may quote its registration's ciphertext path, which the
// admin writes, and a line break in it must not print a line of its own
// ("PASS ...") under the verify's output.
type oneLineError struct{ error }

func (e oneLineError) Error() string { return safetext.Escape(e.error.Error()) }
func (e oneLineError) Unwrap() error { return e.error }
