package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/shred"
)

type witnessOptions struct {
	File     string // the attestation
	Key      string // its signer's public key
	SignKey  string // the witness's signing key
	Output   string
	Operator string
}

func attestWitnessCommand() *cli.Command {
	return &cli.Command{
		Name:      "witness",
		Usage:     "check an attestation against Vault and the storage themselves, then sign a witness statement",
		ArgsUsage: "ATTESTATION",
		Description: "For an auditor with a read-only token. Verifies the attestation with --key, then checks in Vault\n" +
			"that every subject's key is gone with the Transit mount present, that the ledger verifies and still\n" +
			"holds the attested head, and that each ciphertext is gone from its storage; only then signs.\n" +
			"Verify both with: cryptoshred attest verify ATT --key ADMIN.pub --witness W --witness-key AUDITOR.pub",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "key", Usage: "the attestation signer's public key (PEM) (required)"},
			&cli.StringFlag{Name: "sign-key", Usage: "the witness's signing key: a PEM file or hashivault://NAME (required)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "the witness file to create (required)"},
			&cli.StringFlag{Name: "operator", Usage: "the witness's name for the statement"},
		},
		Action: func(c *cli.Context) error {
			if err := requireArgs(c, 1, "ATTESTATION"); err != nil {
				return err
			}
			opts := witnessOptions{File: c.Args().First(), Key: c.String("key"), SignKey: c.String("sign-key"),
				Output: c.String("output"), Operator: c.String("operator")}
			if opts.Key == "" || opts.SignKey == "" || opts.Output == "" {
				return usagef("attest witness needs --key (the attestation signer's public key), --sign-key (the witness's signing key) and --output FILE")
			}
			o, v, err := setup(c)
			if err != nil {
				return err
			}
			return runWitness(c.Context, o, v, opts, c.App.ErrWriter)
		},
	}
}

func runWitness(ctx context.Context, o globalOptions, v *shred.Service, opts witnessOptions, stderr io.Writer) error {
	env, verifier, err := loadForVerify(verifyOptions{File: opts.File, Key: opts.Key})
	if err != nil {
		return err
	}
	signer, err := loadSigner(ctx, opts.SignKey, o, stderr)
	if err != nil {
		return err
	}
	actor, err := v.WhoAmI(ctx)
	if err != nil {
		return err
	}
	w, err := v.Witness(ctx, actor, env, shred.WitnessOptions{Verifier: verifier, Signer: signer, ToolVersion: version, Operator: opts.Operator})
	if err != nil {
		return err
	}
	if err := writeBytes(opts.Output, w); err != nil {
		return err
	}
	printf(stderr, "witnessed %s: every key gone, every ciphertext gone, ledger verified; witness written to %s\n", opts.File, opts.Output)
	return nil
}

// verifyWitness checks a witness against the attestation env: both must
// verify, each with its own key, and refer to each other. It returns the
// outcome as a check of the attestation's report, or no check if the
// witness could not be read.
func verifyWitness(ctx context.Context, env []byte, file, keyFile string) (attest.Check, error) {
	if keyFile == "" {
		return attest.Check{}, usagef("--witness needs --witness-key, the witness's public key")
	}
	wenv, err := readFileLimited(file, attest.MaxEnvelopeSize)
	if err != nil {
		return attest.Check{}, err
	}
	pub, err := readFileLimited(keyFile, 64<<10)
	if err != nil {
		return attest.Check{}, err
	}
	v, err := attest.LoadVerifier(pub)
	if err != nil {
		return attest.Check{}, fmt.Errorf("%s: %w", keyFile, err)
	}
	ws, err := attest.VerifyWitness(ctx, wenv, env, v)
	if err != nil {
		return attest.Check{Name: attest.CheckWitness, Detail: err.Error()}, err
	}
	pk, _ := v.PublicKey()
	fp, _ := attest.Fingerprint(pk)
	return attest.Check{Name: attest.CheckWitness, Passed: true, Detail: fmt.Sprintf("%s signed by %s (key %s) at %s: %d backup(s) checked in Vault and the storage, attested ledger head in the chain%s",
		ws.Predicate.WitnessID, ws.Predicate.Witness.VaultIdentity.String(), fp, ws.Predicate.IssuedAt.Format("2006-01-02T15:04:05Z07:00"), len(ws.Predicate.Backups),
		witnessedFindings(ws.Predicate.Ledger.Findings))}, nil
}

// witnessedFindings describes the ledger findings a witness stated.
func witnessedFindings(slots []int64) string {
	if len(slots) == 0 {
		return ""
	}
	names := make([]string, len(slots))
	for i, seq := range slots {
		names[i] = strconv.FormatInt(seq, 10)
		if seq == 0 {
			names[i] = "the head hint"
		}
	}
	return fmt.Sprintf(" (through %d finding(s) written outside cryptoshred, at ledger slot(s) %s: ledger verify names them)", len(slots), strings.Join(names, ", "))
}
