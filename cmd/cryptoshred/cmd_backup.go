package main

import (
	"github.com/urfave/cli/v2"
)

func backupCommand() *cli.Command {
	return &cli.Command{
		Name:  "backup",
		Usage: "protect, list, show and open backups",
		Subcommands: []*cli.Command{
			backupProtectCommand(),
			backupRegisterCommand(),
			backupListCommand(),
			backupShowCommand(),
			backupOpenCommand(),
			backupDisposeCommand(),
			backupDisposeRestoreCommand(),
			backupVerifyCommand(),
		},
	}
}
