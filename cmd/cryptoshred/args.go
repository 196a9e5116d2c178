package main

import (
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// permuteArgs moves the flags of the innermost command in front of its
// positional arguments, so `backup open ID --purpose X` parses as DESIGN.md
// writes it: urfave/cli/v2 stops reading flags at the first argument. Global
// flags given after the command (`backup list --format json`) move to the
// front, unless the command has a flag of that name itself.
func permuteArgs(app *cli.App, args []string) []string {
	// urfave/cli recognises a completion request only as the last argument.
	if len(args) == 0 || args[len(args)-1] == "--generate-bash-completion" {
		return args
	}
	out := []string{args[0]}
	flags, cmds, rest := app.Flags, app.Commands, args[1:]
	for {
		lead, tail := leadingFlags(rest, flags)
		out = append(out, lead...)
		if len(tail) == 0 {
			return out
		}
		cmd := findCommand(cmds, tail[0])
		if cmd == nil {
			return append(out, tail...)
		}
		out = append(out, tail[0])
		flags, cmds, rest = cmd.Flags, cmd.Subcommands, tail[1:]
		if len(cmds) == 0 {
			all := append(slices.Clone(flags), app.Flags...)
			global, local := hoistGlobal(flagsFirst(rest, all), app.Flags, flags)
			return append(append([]string{out[0]}, global...), append(out[1:], local...)...)
		}
	}
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.Name == name || slices.Contains(c.Aliases, name) {
			return c
		}
	}
	return nil
}

// leadingFlags splits args into the flags (with their values) at its start
// and the rest.
func leadingFlags(args []string, flags []cli.Flag) (lead, tail []string) {
	i := 0
	for i < len(args) && isFlag(args[i]) {
		i += flagWidth(args, i, flags)
	}
	i = min(i, len(args))
	return args[:i], args[i:]
}

// flagsFirst returns args with every flag moved before the positional
// arguments, keeping their order; "--" ends flag parsing.
func flagsFirst(args []string, flags []cli.Flag) []string {
	var fl, pos []string
	for i := 0; i < len(args); {
		switch {
		case args[i] == "--":
			return append(append(fl, "--"), append(pos, args[i+1:]...)...)
		case isFlag(args[i]):
			w := min(flagWidth(args, i, flags), len(args)-i)
			fl = append(fl, args[i:i+w]...)
			i += w
		default:
			pos = append(pos, args[i])
			i++
		}
	}
	if len(pos) > 0 {
		fl = append(fl, "--")
	}
	return append(fl, pos...)
}

func isFlag(a string) bool { return len(a) > 1 && a[0] == '-' && a != "--" }

// flagWidth is 2 for a flag whose value is the next argument, else 1.
func flagWidth(args []string, i int, flags []cli.Flag) int {
	name := strings.TrimLeft(args[i], "-")
	if strings.Contains(name, "=") {
		return 1
	}
	for _, f := range flags {
		if slices.Contains(f.Names(), name) {
			if _, isBool := f.(*cli.BoolFlag); isBool {
				return 1
			}
			return 2
		}
	}
	return 1
}

// hoistGlobal splits the leading flags of args into global flags (known to
// the app, not to the command) and the rest, which keeps its order.
func hoistGlobal(args []string, global, local []cli.Flag) (hoisted, rest []string) {
	for i := 0; i < len(args); {
		if !isFlag(args[i]) {
			return hoisted, append(rest, args[i:]...)
		}
		w := min(flagWidth(args, i, append(slices.Clone(local), global...)), len(args)-i)
		if knows(global, args[i]) && !knows(local, args[i]) {
			hoisted = append(hoisted, args[i:i+w]...)
		} else {
			rest = append(rest, args[i:i+w]...)
		}
		i += w
	}
	return hoisted, rest
}

func knows(flags []cli.Flag, arg string) bool {
	name, _, _ := strings.Cut(strings.TrimLeft(arg, "-"), "=")
	for _, f := range flags {
		if slices.Contains(f.Names(), name) {
			return true
		}
	}
	return false
}

// caseFlag is --case on the commands that take the case as their first
// argument, so `--case C` works on every command that names a case.
func caseFlag() cli.Flag {
	return &cli.StringFlag{Name: "case", Usage: "the case (or give it as the first argument)"}
}

// caseArg returns the case a `case ...` command acts on, from --case or
// else its first argument, and the arguments that follow it.
func caseArg(c *cli.Context) (id string, rest []string, err error) {
	if id := c.String("case"); id != "" {
		return id, c.Args().Slice(), nil
	}
	if c.NArg() == 0 {
		return "", nil, usagef("%s: missing CASE (the first argument, or --case)", commandName(c))
	}
	return c.Args().First(), c.Args().Tail(), nil
}

// singleCaseArg is caseArg for a command that takes nothing else.
func singleCaseArg(c *cli.Context) (string, error) {
	id, rest, err := caseArg(c)
	if err == nil && len(rest) > 0 {
		err = usagef("%s: unexpected argument %q: the case is already given with --case", commandName(c), rest[0])
	}
	return id, err
}
