package main

import (
	"context"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/internal/fsutil"
)

type showOptions struct {
	File   string
	Key    string
	Format string
	Output string
}

func attestShowCommand() *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "render an attestation as a NIST SP 800-88 certificate of sanitization",
		ArgsUsage: "FILE",
		Description: "With --key the attestation is verified first and the certificate names the key's fingerprint; " +
			"without it the certificate is marked unverified.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "key", Usage: "verify with this public key (PEM) first"},
			&cli.StringFlag{Name: "format", Usage: "text, json or html (default: text, or the global --format)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to this file instead of stdout"},
		},
		Action: func(c *cli.Context) error {
			if err := requireArgs(c, 1, "FILE"); err != nil {
				return err
			}
			opts := showOptions{File: c.Args().First(), Key: c.String("key"), Format: formatOption(c), Output: c.String("output")}
			if opts.Format != "text" && opts.Format != "json" && opts.Format != "html" {
				return usagef("--format must be text, json or html")
			}
			return runAttestShow(c.Context, opts, c.App.Writer, c.App.ErrWriter)
		},
	}
}

func runAttestShow(ctx context.Context, opts showOptions, stdout, stderr io.Writer) error {
	st, fp, err := loadForShow(ctx, opts)
	if err != nil {
		return err
	}
	if fp == "" {
		printf(stderr, "warning: UNVERIFIED certificate: its signature was not checked (no --key); it is marked so at the top\n")
	}
	if opts.Output == "" {
		return renderCertificate(stdout, opts.Format, st, fp)
	}
	return fsutil.WriteFileAtomic(opts.Output, func(w io.Writer) error {
		return renderCertificate(w, opts.Format, st, fp)
	})
}

func loadForShow(ctx context.Context, opts showOptions) (*attest.Statement, string, error) {
	if opts.Key == "" {
		f, err := os.Open(opts.File)
		if err != nil {
			return nil, "", err
		}
		defer f.Close()
		env, err := attest.ReadEnvelope(f)
		if err != nil {
			return nil, "", err
		}
		st, err := attest.ParseUnverified(env)
		return st, "", err
	}
	env, v, err := loadForVerify(verifyOptions{File: opts.File, Key: opts.Key})
	if err != nil {
		return nil, "", err
	}
	rep, err := attest.Verify(ctx, env, v, attest.VerifyOptions{})
	if err != nil {
		return nil, "", err
	}
	return rep.Statement, rep.KeyFingerprint, nil
}

func renderCertificate(w io.Writer, format string, st *attest.Statement, fp string) error {
	switch format {
	case "json":
		return writeJSON(w, st)
	case "html":
		return attest.RenderHTML(w, st, fp)
	}
	return attest.RenderText(w, st, fp)
}
