package main

import (
	"context"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
)

func backupRegisterCommand() *cli.Command {
	return &cli.Command{
		Name:      "register",
		Usage:     "adopt age files encrypted with age-plugin-cryptoshred to a per-backup key",
		ArgsUsage: "FILE.age...",
		Description: "Reads each file's age header without decrypting it. The file must be wrapped to exactly one " +
			"cryptoshred key named bk-..., not yet registered, held in Vault with deletion not allowed; the key " +
			"name becomes the backup id. The file is never modified. Its plaintext history is unknown: record " +
			"what became of the plaintext with `backup dispose-original`.\nCategories: " + strings.Join(catalog.Categories, ", "),
		Flags: append(metadataFlags(),
			&cli.BoolFlag{Name: "no-storage-hold", Usage: "allow an S3 object in a bucket without Object Lock, where no hold can protect the ciphertext"}),
		Action: fileBatchAction(runRegister),
	}
}

func registerRequest(o protectOptions, file string) shred.RegisterRequest {
	return shred.RegisterRequest{File: file, System: o.System, NoStorageHold: o.NoStorageHold,
		Controllers: o.Controllers, Categories: o.Categories, Labels: o.Labels}
}

func runRegister(ctx context.Context, o globalOptions, v *shred.Service, opts protectOptions, _ io.Reader, stdout, stderr io.Writer) error {
	return runEachFile(ctx, o, v, opts.Files, 1, stdout, stderr, "register",
		func(actor shred.Actor, file string) (*catalog.Backup, error) {
			return v.Register(ctx, actor, registerRequest(opts, file))
		},
		func(_ string, b *catalog.Backup) {
			printf(stdout, "registered %s as %s (sha256 %s); record what became of its plaintext with `cryptoshred backup dispose-original %s`\n",
				b.Ciphertext.Path, b.ID, b.Ciphertext.SHA256, b.ID)
		})
}
