package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// bashCompletion asks the binary itself for candidates, through urfave/cli's
// --generate-bash-completion flag.
const bashCompletion = `# bash completion for cryptoshred: source it, or put it in /etc/bash_completion.d/
_cryptoshred() {
  local cur words
  cur="${COMP_WORDS[COMP_CWORD]}"
  if [[ "$cur" == "-"* ]]; then
    words=$("${COMP_WORDS[@]:0:$COMP_CWORD}" "$cur" --generate-bash-completion 2>/dev/null)
  else
    words=$("${COMP_WORDS[@]:0:$COMP_CWORD}" --generate-bash-completion 2>/dev/null)
  fi
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o bashdefault -o default -F _cryptoshred cryptoshred
`

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:  "completion",
		Usage: "print a shell completion script (bash or fish) or the man page (man)",
		Description: "EXAMPLES:\n  cryptoshred completion bash > /etc/bash_completion.d/cryptoshred\n" +
			"  cryptoshred completion fish > ~/.config/fish/completions/cryptoshred.fish\n" +
			"  cryptoshred completion man > cryptoshred.1",
		ArgsUsage: "bash|fish|man",
		Action: func(c *cli.Context) error {
			if err := requireArgs(c, 1, "shell"); err != nil {
				return err
			}
			return runCompletion(c, c.Args().First())
		},
	}
}

func runCompletion(c *cli.Context, kind string) error {
	var out string
	var err error
	switch kind {
	case "bash":
		out = bashCompletion
	case "fish":
		out, err = c.App.ToFishCompletion()
	case "man":
		out, err = c.App.ToMan()
	default:
		return usagef("completion: want bash, fish or man, not %q", kind)
	}
	if err != nil {
		return err
	}
	fmt.Fprint(c.App.Writer, out)
	return nil
}
