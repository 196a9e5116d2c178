package main

import (
	"context"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
)

func backupShowCommand() *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "show one backup's catalog entry and its key in Vault",
		ArgsUsage: "ID",
		Action: func(c *cli.Context) error {
			if err := requireArgs(c, 1, "ID"); err != nil {
				return err
			}
			o, v, err := setup(c)
			if err != nil {
				return err
			}
			return runBackupShow(c.Context, o, v, c.Args().First(), c.App.Writer)
		},
	}
}

func runBackupShow(ctx context.Context, o globalOptions, v *shred.Service, id string, w io.Writer) error {
	b, _, err := v.GetBackup(ctx, id)
	if err != nil {
		return err
	}
	key, err := v.KeyInfo(ctx, b.Key)
	if err != nil {
		return err
	}
	if o.Format == "json" {
		return writeJSON(w, map[string]any{"backup": b, "key": key})
	}
	return renderBackup(w, b, key)
}

func renderBackup(w io.Writer, b *catalog.Backup, key *shred.KeyInfo) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) { printf(tw, "%s:\t%s\n", k, dash(v)) }
	row("ID", b.ID)
	row("State", string(b.State))
	row("System", b.System)
	row("Controllers", strings.Join(b.Controllers, ", "))
	row("Categories", strings.Join(b.Categories, ", "))
	row("Held by", strings.Join(b.HeldBy, ", "))
	row("Ciphertext", b.Ciphertext.Path)
	row("Ciphertext SHA-256", b.Ciphertext.SHA256)
	row("Plaintext size", strconv.FormatInt(b.Plaintext.Size, 10)+" bytes")
	row("Created", b.CreatedAt.Format(time.RFC3339)+" by "+b.CreatedBy)
	row("Key", b.Key+" "+describeKey(key))
	if b.Original != nil {
		row("Original", b.Original.Path+" (sha256 "+b.Original.SHA256+")")
		row("Original disposal", describeDisposal(b.Original.Disposal))
	}
	return tw.Flush()
}

func describeKey(k *shred.KeyInfo) string {
	if k == nil {
		return "(not in Vault: destroyed)"
	}
	if k.DeletionAllowed {
		return "(in Vault, deletion allowed)"
	}
	return "(in Vault, deletion not allowed)"
}

func describeDisposal(d *catalog.Disposal) string {
	if d == nil {
		return "not recorded"
	}
	return d.Method + " at " + d.At.Format(time.RFC3339) + " by " + d.By
}
