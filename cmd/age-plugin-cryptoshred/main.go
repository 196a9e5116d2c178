// Command age-plugin-cryptoshred lets the stock age CLI encrypt to and
// decrypt with cryptoshred's per-backup Vault Transit keys. The file key is
// wrapped and unwrapped by Vault; the stanza is the one `cryptoshred backup
// protect` writes, so either tool opens the other's files. See README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"filippo.io/age"
	"filippo.io/age/plugin"
)

// version is set at build time with -ldflags -X main.version=...
var version = "dev"

// pluginName is the plugin's name: binary age-plugin-cryptoshred,
// recipients age1cryptoshred1..., identities AGE-PLUGIN-CRYPTOSHRED-1...
const pluginName = "cryptoshred"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the flags of a manual invocation.
type options struct {
	recipient, identity string
	version             bool
}

func run(args []string, stdout, stderr io.Writer) int {
	p, err := plugin.New(pluginName)
	if err != nil {
		fmt.Fprintf(stderr, "age-plugin-cryptoshred: %v\n", err)
		return 1
	}
	fs := flag.NewFlagSet("age-plugin-cryptoshred", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { usage(fs) }
	p.RegisterFlags(fs)
	opts := registerFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.Lookup("age-plugin").Value.String() != "" {
		return serve(p)
	}
	return manual(fs, opts, stdout, stderr)
}

func registerFlags(fs *flag.FlagSet) *options {
	o := &options{}
	fs.StringVar(&o.recipient, "recipient", "", "print the recipient for Transit key `NAME` (\"new\": a fresh key per file)")
	fs.StringVar(&o.identity, "identity", "", "print the identity for Transit key `NAME` (\"any\": every cryptoshred key)")
	fs.BoolVar(&o.version, "version", false, "print the version")
	return o
}

func usage(fs *flag.FlagSet) {
	fmt.Fprint(fs.Output(), `age-plugin-cryptoshred: age plugin for cryptoshred's Vault Transit keys

  age -r "$(age-plugin-cryptoshred -recipient new)" -o backup.tar.age backup.tar
  age-plugin-cryptoshred -identity any > cryptoshred.id
  age -d -i cryptoshred.id -o backup.tar backup.tar.age

VAULT_ADDR and VAULT_TOKEN (and CRYPTOSHRED_TRANSIT_MOUNT) name the Vault to use.

`)
	fs.PrintDefaults()
}

// serve runs the age plugin protocol for the age CLI.
func serve(p *plugin.Plugin) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	vault := lazyVault()
	p.HandleRecipient(func(data []byte) (age.Recipient, error) {
		return newRecipient(ctx, p, vault, data)
	})
	p.HandleIdentity(func(data []byte) (age.Identity, error) {
		return newIdentity(ctx, vault, data)
	})
	return p.Main()
}

// manual prints a recipient, an identity or the version.
func manual(fs *flag.FlagSet, o *options, stdout, stderr io.Writer) int {
	line, err := manualLine(o)
	if err != nil {
		fmt.Fprintf(stderr, "age-plugin-cryptoshred: %v\n", err)
		return 2
	}
	if line == "" {
		fs.Usage()
		return 2
	}
	fmt.Fprintln(stdout, line)
	return 0
}

func manualLine(o *options) (string, error) {
	switch {
	case o.version:
		return "age-plugin-cryptoshred " + version, nil
	case o.recipient != "":
		return encodeRecipient(o.recipient)
	case o.identity != "":
		return encodeIdentity(o.identity)
	}
	return "", nil
}
