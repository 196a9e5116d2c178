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
	Trust  timeTrust
}

func attestShowCommand() *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "render an attestation as a NIST SP 800-88 certificate of sanitization",
		ArgsUsage: "FILE",
		Description: "With --key the attestation is verified first and the certificate names the key's fingerprint; " +
			"without it the certificate is marked unverified. With --key and a bundle's authority (--tsa-chain or --trusted-root) " +
			"the certificate shows the trusted time and the authority's name.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "key", Usage: "verify with this public key (PEM) first"},
			&cli.StringFlag{Name: "format", Usage: "text, json or html", Value: "text"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to this file instead of stdout"},
		}, timeTrustFlags()...),
		Action: func(c *cli.Context) error {
			if err := requireArgs(c, 1, "FILE"); err != nil {
				return err
			}
			opts := showOptions{File: c.Args().First(), Key: c.String("key"), Format: c.String("format"), Output: c.String("output"),
				Trust: timeTrustFrom(c)}
			if opts.Format != "text" && opts.Format != "json" && opts.Format != "html" {
				return usagef("--format must be text, json or html")
			}
			if opts.Key == "" && (len(opts.Trust.Chains) > 0 || opts.Trust.TrustedRoot != "") {
				return usagef("--tsa-chain and --trusted-root need --key: a timestamp is checked over a verified signature")
			}
			return runAttestShow(c.Context, opts, c.App.Writer)
		},
	}
}

func runAttestShow(ctx context.Context, opts showOptions, stdout io.Writer) error {
	rep, err := loadForShow(ctx, opts)
	if err != nil {
		return err
	}
	if opts.Output == "" {
		return renderCertificate(stdout, opts.Format, rep)
	}
	return fsutil.WriteFileAtomic(opts.Output, func(w io.Writer) error {
		return renderCertificate(w, opts.Format, rep)
	})
}

// loadForShow returns the verified report, or with no --key a report
// holding only the unverified statement (no fingerprint, no times).
func loadForShow(ctx context.Context, opts showOptions) (*attest.Report, error) {
	if opts.Key == "" {
		st, err := parseForShow(opts.File)
		return &attest.Report{Statement: st}, err
	}
	env, v, err := loadForVerify(verifyOptions{File: opts.File, Key: opts.Key})
	if err != nil {
		return nil, err
	}
	vopts, err := opts.Trust.verifyOptions("")
	if err != nil {
		return nil, err
	}
	return attest.Verify(ctx, env, v, vopts)
}

func parseForShow(file string) (*attest.Statement, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	env, err := attest.ReadEnvelope(f)
	if err != nil {
		return nil, err
	}
	return attest.ParseUnverified(env)
}

func renderCertificate(w io.Writer, format string, rep *attest.Report) error {
	switch format {
	case "json":
		return writeJSON(w, rep.Statement)
	case "html":
		return attest.RenderHTML(w, rep.Statement, rep.KeyFingerprint, rep.TrustedTimes...)
	}
	return attest.RenderText(w, rep.Statement, rep.KeyFingerprint, rep.TrustedTimes...)
}
