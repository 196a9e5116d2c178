package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/cryptoshred/cryptoshred/internal/safetext"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/urfave/cli/v2"
)

// newApp builds the command tree. It never exits the process: errors come
// back from Run and reportError maps them to exit codes.
func newApp(stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:    "cryptoshred",
		Usage:   "crypto-shreddable backups, legal holds and signed deletion attestations on HashiCorp Vault",
		Version: version,
		Description: "The Vault token is VAULT_TOKEN or, when it is unset, ~/.vault-token (written by vault login); never a flag.\n\n" +
			exitCodesHelp,
		Reader:               stdin,
		Writer:               stdout,
		ErrWriter:            stderr,
		Flags:                globalFlags(),
		EnableBashCompletion: true,
		ExitErrHandler:       func(*cli.Context, error) {},
		OnUsageError:         onUsageError,
		Action:               unknownCommand,
		Commands: []*cli.Command{
			initCommand(),
			backupCommand(),
			caseCommand(),
			holdCommand(),
			shredCommand(),
			attestCommand(),
			ledgerCommand(),
			reportCommand(),
			completionCommand(),
		},
	}
	setUsageErrorHandlers(app.Commands)
	addExamples(app.Commands, "")
	return app
}

// onUsageError turns a flag parsing error into a usage error, suggesting
// the closest flag for one that is not defined.
func onUsageError(c *cli.Context, err error, _ bool) error {
	const undefined = "flag provided but not defined: -"
	msg := err.Error()
	name, ok := strings.CutPrefix(msg, undefined)
	if !ok {
		return usagef("%v", err)
	}
	name = strings.TrimLeft(name, "-")
	var known []string
	for _, cc := range c.Lineage() {
		var flags []cli.Flag
		switch {
		case cc.Command != nil && cc.Command.Name != "":
			flags = cc.Command.Flags
		case cc.App != nil:
			flags = cc.App.Flags
		}
		for _, f := range flags {
			known = append(known, f.Names()...)
		}
	}
	hint := strings.Replace(didYouMean(name, known), `"`, `"--`, 1)
	if name == "o" && slices.Contains(known, "out") {
		// -o names the one file a command writes; protect writes into a place.
		hint = ` (this command writes into a directory or bucket: use --out)`
	}
	dashes := "--"
	if len(name) == 1 {
		dashes = "-"
	}
	return usagef("unknown flag %s%s%s: see --help", dashes, name, hint)
}

func setUsageErrorHandlers(cmds []*cli.Command) {
	for _, c := range cmds {
		c.OnUsageError = onUsageError
		if len(c.Subcommands) > 0 && c.Action == nil {
			c.Action = unknownCommand
		}
		if len(c.Subcommands) == 0 && c.Action != nil {
			c.Action = checkArgCount(c.Action)
		}
		setUsageErrorHandlers(c.Subcommands)
	}
}

// checkArgCount wraps a command's action so that positional arguments
// beyond what its ArgsUsage names are a usage error, never silently
// ignored: no ArgsUsage takes none, a single word ("ID") takes one, and
// "..." takes any number, each of which the command handles.
func checkArgCount(action cli.ActionFunc) cli.ActionFunc {
	return func(c *cli.Context) error {
		if max := maxArgs(c.Command.ArgsUsage); max >= 0 && c.NArg() > max {
			extra := c.Args().Get(max)
			if max == 0 {
				return usagef("%s: unexpected argument %q (it takes no arguments; see --help)", commandName(c), extra)
			}
			return usagef("%s: unexpected argument %q: it takes one %s (see --help)", commandName(c), extra, c.Command.ArgsUsage)
		}
		if err := checkCaseIDs(c); err != nil {
			return err
		}
		return action(c)
	}
}

// checkCaseIDs makes a malformed case id, given with --case or as the
// CASE argument, a usage error before anything is asked of Vault.
func checkCaseIDs(c *cli.Context) error {
	ids := []string{}
	if slices.ContainsFunc(c.Command.Flags, func(f cli.Flag) bool { return slices.Contains(f.Names(), "case") }) && c.String("case") != "" {
		ids = append(ids, c.String("case"))
	}
	if strings.HasPrefix(c.Command.ArgsUsage, "CASE") && c.NArg() > 0 && len(ids) == 0 {
		ids = append(ids, c.Args().First())
	}
	for _, id := range ids {
		if err := catalog.CheckID("case", id); err != nil {
			return usagef("%v", err)
		}
	}
	return nil
}

// maxArgs is how many positional arguments usage allows, -1 for any.
func maxArgs(usage string) int {
	switch {
	case strings.Contains(usage, "..."):
		return -1
	case strings.TrimSpace(usage) == "":
		return 0
	}
	return 1
}

// unknownCommand is the action of the app and of command groups: help when
// called bare, a usage error for a command that does not exist.
func unknownCommand(c *cli.Context) error {
	if c.NArg() > 0 {
		return usagef("unknown command %q: see --help", c.Args().First())
	}
	if c.Command != nil && c.Command.Name != "" {
		return cli.ShowSubcommandHelp(c)
	}
	return cli.ShowAppHelp(c)
}

// requireArgs checks the number of positional arguments.
func requireArgs(c *cli.Context, min int, what string) error {
	if c.NArg() < min {
		return usagef("%s: missing %s", commandName(c), what)
	}
	return nil
}

func noExtraArgs(c *cli.Context) error {
	if c.NArg() > 0 {
		return usagef("%s: unexpected argument %q", commandName(c), c.Args().First())
	}
	return nil
}

func printf(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, format, escapeArgs(args)...)
}

// escapeArgs makes every text argument safe to print: names, actors and
// reasons come from records anyone with a role token may have written,
// and a control character in one must not rewrite what the terminal
// shows around it.
func escapeArgs(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case string:
			out[i] = safetext.Escape(v)
		case error:
			out[i] = errorText(v)
		case fmt.Stringer:
			out[i] = safetext.Escape(v.String())
		default:
			out[i] = a
		}
	}
	return out
}

// escapeLines escapes each line of s, keeping the line breaks.
func escapeLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = safetext.Escape(l)
	}
	return strings.Join(lines, "\n")
}

// errorText is err's text, safe to print. Each line is escaped and the
// line breaks stay, for the messages written over several lines on
// purpose (a batch's failures, one a line). A failed verification is
// different: its text may quote what was verified (a timestamp
// response's status text, a ledger slot, a witness), which anyone can
// write, and a line break in it would let that text print lines of its
// own ("VERIFIED: ..."). In it only the breaks errors.Join puts between
// errors stay, each error on one line; every other one is escaped.
func errorText(err error) string {
	if !verificationFailed(err) {
		return escapeLines(err.Error())
	}
	return oneLinePerError(err)
}

// oneLinePerError is the text of err, a failed verification or a join
// or wrapping of some, with each error on one line.
func oneLinePerError(err error) string {
	msg := err.Error()
	switch u := err.(type) {
	case interface{ Unwrap() []error }:
		var texts, parts []string
		for _, e := range u.Unwrap() {
			if e != nil {
				texts, parts = append(texts, e.Error()), append(parts, errorText(e))
			}
		}
		if len(texts) > 0 && strings.Join(texts, "\n") == msg {
			return strings.Join(parts, "\n")
		}
	case interface{ Unwrap() error }:
		// "N of M attestation(s) failed: " before a join of them.
		if inner := u.Unwrap(); inner != nil && verificationFailed(inner) {
			if prefix, ok := strings.CutSuffix(msg, inner.Error()); ok {
				return safetext.Escape(prefix) + oneLinePerError(inner)
			}
		}
	}
	return safetext.Escape(msg)
}

// commandName is the command's full name, such as "backup show".
func commandName(c *cli.Context) string {
	var names []string
	for _, cc := range c.Lineage() {
		if cc.Command != nil && cc.Command.Name != "" {
			names = append([]string{cc.Command.Name}, names...)
		}
	}
	return strings.Join(names, " ")
}
