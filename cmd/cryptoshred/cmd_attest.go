package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/attest/vaultsign"
)

// passwordEnv holds the signing key's password, for unattended runs. It is
// never a flag.
const passwordEnv = "CRYPTOSHRED_SIGN_KEY_PASSWORD"

func attestCommand() *cli.Command {
	return &cli.Command{
		Name:  "attest",
		Usage: "create signing keys, verify and show deletion attestations (offline); get and list those stored in Vault",
		Subcommands: []*cli.Command{
			{
				Name: "keygen", Usage: "write a signing key pair NAME.key (0600, encrypted) and NAME.pub, and print its fingerprint",
				Description: "The private key is encrypted (scrypt and secretbox, the cosign format) with the password in " +
					passwordEnv + ", or asked on the terminal; --no-password writes it unencrypted. The fingerprint " +
					"printed is the one attest verify and the certificate show: give it to the verifiers with NAME.pub. " +
					"As everywhere, -o names the file written: the private key; the public key goes beside it, " +
					"its name ending in .pub instead of .key.\n\n" +
					"EXAMPLES:\n   cryptoshred attest keygen -o signer.key\n   " + passwordEnv + "=... cryptoshred attest keygen -o signer.key --algorithm ed25519",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "the private key file to create (the public key: same name, .pub)", Value: "cryptoshred-attest.key"},
					&cli.StringFlag{Name: "algorithm", Usage: "ecdsa-p256 or ed25519", Value: string(attest.ECDSAP256)},
					&cli.BoolFlag{Name: "no-password", Usage: "write the private key unencrypted"},
					&cli.BoolFlag{Name: "encrypt", Usage: "ask for a password (the default; kept for old scripts)", Hidden: true},
				},
				Action: attestKeygenAction,
			},
			attestVerifyCommand(),
			attestWitnessCommand(),
			attestShowCommand(),
			attestGetCommand(),
			attestListCommand(),
		},
	}
}

func attestKeygenAction(c *cli.Context) error {
	alg := attest.Algorithm(c.String("algorithm"))
	if alg != attest.ECDSAP256 && alg != attest.Ed25519 {
		return usagef("--algorithm must be ecdsa-p256 or ed25519")
	}
	password, err := newKeyPassword(c.Context, c.Bool("no-password"), c.App.ErrWriter)
	if err != nil {
		return err
	}
	priv := c.String("output")
	pub := publicKeyFile(priv)
	if err := attest.WriteKeyPair(priv, pub, alg, password); err != nil {
		return err
	}
	fp, err := pubFingerprint(pub)
	if err != nil {
		return err
	}
	if formatOption(c) == "json" {
		if err := writeJSON(c.App.Writer, map[string]any{"privateKey": priv, "publicKey": pub,
			"encrypted": len(password) > 0, "fingerprint": fp}); err != nil {
			return err
		}
	} else {
		printf(c.App.Writer, "wrote %s (private, mode 0600, encrypted: %t) and %s\nfingerprint %s\n", priv, len(password) > 0, pub, fp)
	}
	if len(password) == 0 {
		printf(c.App.ErrWriter, "warning: %s is not encrypted (--no-password): whoever can read it can sign attestations\n", priv)
	}
	return nil
}

// publicKeyFile names the public key written beside the private key priv:
// signer.key -> signer.pub, and any other name with .pub appended.
func publicKeyFile(priv string) string {
	return strings.TrimSuffix(priv, ".key") + ".pub"
}

// pubFingerprint returns the fingerprint of the public key in file.
func pubFingerprint(file string) (string, error) {
	pem, err := readFileLimited(file, 64<<10)
	if err != nil {
		return "", err
	}
	v, err := attest.LoadVerifier(pem)
	if err != nil {
		return "", err
	}
	pub, err := v.PublicKey()
	if err != nil {
		return "", err
	}
	return attest.Fingerprint(pub)
}

// newKeyPassword returns the new key's password: from the environment,
// none with --no-password, else asked twice on the terminal.
func newKeyPassword(ctx context.Context, none bool, stderr io.Writer) ([]byte, error) {
	if p := os.Getenv(passwordEnv); p != "" {
		return []byte(p), nil
	}
	if none {
		return nil, nil
	}
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		return nil, usagef("attest keygen encrypts the private key: set %s, run it on a terminal to be asked, or pass --no-password", passwordEnv)
	}
	first, err := readPassword(ctx, stderr, "Password for the new key: ")
	if err != nil {
		return nil, err
	}
	second, err := readPassword(ctx, stderr, "Repeat the password: ")
	if err != nil {
		return nil, err
	}
	if string(first) != string(second) || len(first) == 0 {
		return nil, usagef("the passwords are empty or do not match")
	}
	return first, nil
}

// keyPassword supplies the signing key's password: from the environment,
// else asked on the terminal.
func keyPassword(ctx context.Context, stderr io.Writer) func() ([]byte, error) {
	return func() ([]byte, error) {
		if p := os.Getenv(passwordEnv); p != "" {
			return []byte(p), nil
		}
		return readPassword(ctx, stderr, "Password for the signing key: ")
	}
}

// readPassword asks for a password on the terminal without echo. Ctrl-C
// returns an error at once (readUnlessDone) and turns the echo back on,
// which the abandoned read would restore only on Enter.
func readPassword(ctx context.Context, stderr io.Writer, prompt string) ([]byte, error) {
	fd := int(os.Stdin.Fd())
	state, err := term.GetState(fd) // fails on anything but a terminal
	if err != nil {
		return nil, usagef("the key is encrypted: set %s or run on a terminal", passwordEnv)
	}
	fmt.Fprint(stderr, prompt)
	p, err := readUnlessDone(ctx, func() ([]byte, error) { return term.ReadPassword(fd) })
	fmt.Fprintln(stderr)
	if ctx.Err() != nil {
		_ = term.Restore(fd, state)
	}
	return p, err
}

// loadSigner loads --sign-key: a PEM file or hashivault://NAME, which signs
// with a Transit key of the Vault in use.
func loadSigner(ctx context.Context, ref string, o globalOptions, stderr io.Writer) (signature.Signer, error) {
	if vaultsign.IsReference(ref) {
		token, err := vaultToken()
		if err != nil {
			return nil, err
		}
		return vaultsign.Load(ctx, ref, vaultsign.WithVaultAddress(o.VaultAddr),
			vaultsign.WithVaultToken(token), vaultsign.WithTransitMount(o.TransitMount))
	}
	return attest.LoadSigner(ctx, ref, keyPassword(ctx, stderr))
}

// readFileLimited reads an outside file, refusing one larger than limit.
func readFileLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err == nil && int64(len(b)) > limit {
		err = fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return b, err
}
