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
	// Witness and WitnessKey add a verified witness to the certificate.
	Witness, WitnessKey string
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
			&cli.StringFlag{Name: "format", Usage: "text, json or html (default: text, or the global --format)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to this file instead of stdout"},
			&cli.StringFlag{Name: "witness", Usage: "a witness statement to verify and show beside the signer"},
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
			opts := showOptions{File: c.Args().First(), Key: c.String("key"), Format: formatOption(c), Output: c.String("output"),
				Trust: trust, Witness: c.String("witness"), WitnessKey: c.String("witness-key")}
			if opts.Witness != "" && (opts.Key == "" || opts.WitnessKey == "") {
				return usagef("--witness needs --key and --witness-key: both signatures are verified before the certificate names them")
			}
			if opts.Format != "text" && opts.Format != "json" && opts.Format != "html" {
				return usagef("--format must be text, json or html")
			}
			if opts.Key == "" && (len(opts.Trust.Chains) > 0 || opts.Trust.TrustedRoot != "") {
				return usagef("--tsa-chain and --trusted-root need --key: a timestamp is checked over a verified signature")
			}
			return runAttestShow(c.Context, opts, c.App.Writer, c.App.ErrWriter)
		},
	}
}

func runAttestShow(ctx context.Context, opts showOptions, stdout, stderr io.Writer) error {
	rep, err := loadForShow(ctx, opts)
	if err != nil {
		return err
	}
	if rep.KeyFingerprint == "" {
		printf(stderr, "warning: UNVERIFIED certificate: its signature was not checked (no --key); it is marked so at the top\n")
	}
	seal, err := witnessSeal(ctx, opts)
	if err != nil {
		return err
	}
	if opts.Output == "" {
		return renderCertificate(stdout, opts.Format, rep, seal)
	}
	return fsutil.WriteFileAtomic(opts.Output, func(w io.Writer) error {
		return renderCertificate(w, opts.Format, rep, seal)
	})
}

// witnessSeal verifies the witness, if one is given, against the
// attestation file.
func witnessSeal(ctx context.Context, opts showOptions) (*attest.WitnessSeal, error) {
	if opts.Witness == "" {
		return nil, nil
	}
	env, _, err := loadForVerify(verifyOptions{File: opts.File, Key: opts.Key})
	if err != nil {
		return nil, err
	}
	wenv, err := readFileLimited(opts.Witness, attest.MaxEnvelopeSize)
	if err != nil {
		return nil, err
	}
	_, v, err := loadForVerify(verifyOptions{File: opts.File, Key: opts.WitnessKey})
	if err != nil {
		return nil, err
	}
	ws, err := attest.VerifyWitness(ctx, wenv, env, v)
	if err != nil {
		return nil, err
	}
	pk, _ := v.PublicKey()
	fp, _ := attest.Fingerprint(pk)
	return attest.NewWitnessSeal(ws, fp), nil
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

func renderCertificate(w io.Writer, format string, rep *attest.Report, seal *attest.WitnessSeal) error {
	extras := attest.CertExtras{Times: rep.TrustedTimes, Witness: seal, Warnings: rep.CheckWarnings}
	switch format {
	case "json":
		return writeJSON(w, rep.Statement)
	case "html":
		return attest.RenderHTMLWith(w, rep.Statement, rep.KeyFingerprint, extras)
	}
	return attest.RenderTextWith(w, rep.Statement, rep.KeyFingerprint, extras)
}
