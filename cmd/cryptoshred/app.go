package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/cryptoshred/cryptoshred/internal/safetext"
	"github.com/urfave/cli/v2"
)

// newApp builds the command tree. It never exits the process: errors come
// back from Run and reportError maps them to exit codes.
func newApp(stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:    "cryptoshred",
		Usage:   "crypto-shreddable backups, legal holds and signed deletion attestations on HashiCorp Vault",
		Version: version,
		Description: "VAULT_TOKEN is read from the environment only, never from a flag.\n\n" +
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
	return app
}

func onUsageError(_ *cli.Context, err error, _ bool) error {
	return usagef("%v", err)
}

func setUsageErrorHandlers(cmds []*cli.Command) {
	for _, c := range cmds {
		c.OnUsageError = onUsageError
		if len(c.Subcommands) > 0 && c.Action == nil {
			c.Action = unknownCommand
		}
		setUsageErrorHandlers(c.Subcommands)
	}
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
		return usagef("%s: missing %s", c.Command.FullName(), what)
	}
	return nil
}

func noExtraArgs(c *cli.Context) error {
	if c.NArg() > 0 {
		return usagef("%s: unexpected argument %q", c.Command.FullName(), c.Args().First())
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
			out[i] = escapeLines(v.Error())
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
