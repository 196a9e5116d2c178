package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"

	"github.com/urfave/cli/v2"

	par "github.com/cryptoshred/cryptoshred/internal/parallel"
	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
)

type protectOptions struct {
	Files         []string
	Name          string // for "-", the backup's name
	NoStorageHold bool
	AllowDup      bool
	OutDir        string
	System        string
	Controllers   []string
	Categories    []string
	Labels        map[string]string
	Parallel      int // files protected at once
}

func backupProtectCommand() *cli.Command {
	return &cli.Command{
		Name:      "protect",
		Usage:     "encrypt files with age under new per-backup Vault keys and register them",
		ArgsUsage: "FILE... | - --name NAME",
		Description: "Writes OUT/NAME.age for each FILE, or for standard input (\"-\") under --name. OUT is a directory or " +
			"s3://BUCKET/PREFIX (credentials and endpoint from the standard AWS_* variables; an S3 bucket must have " +
			"Object Lock, so a legal hold can protect the ciphertext, unless --no-storage-hold). The original is never " +
			"modified or deleted (see `backup dispose-original`); a stream has no original left behind. A file whose " +
			"content (SHA-256) a live backup already holds is refused (exit 4) unless --allow-duplicate: shredding one " +
			"copy would leave the other readable. Standard input is not checked. Two FILEs of one name would both be " +
			"written to OUT/NAME.age, so such a batch is refused before anything is written.\nCategories: " +
			strings.Join(catalog.Categories, ", "),
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "out", Usage: "output directory or s3://BUCKET/PREFIX (the files written are named after the inputs)", Value: "."},
			&cli.StringFlag{Name: "name", Usage: "the backup's name when reading standard input (\"-\")"},
			&cli.BoolFlag{Name: "no-storage-hold", Usage: "allow an S3 bucket without Object Lock, where no hold can protect the ciphertext"},
			&cli.IntFlag{Name: "parallel", Usage: "files protected at once (1 to 64)", Value: 1},
			&cli.BoolFlag{Name: "allow-duplicate", Usage: "protect a file even if a live backup already holds the same content (same SHA-256)"},
		}, metadataFlags()...),
		Action: fileBatchAction(runProtect),
	}
}

// fileBatchAction parses the options protect and register share, connects
// and calls run.
func fileBatchAction(run func(context.Context, globalOptions, *shred.Service, protectOptions, io.Reader, io.Writer, io.Writer) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		opts, err := parseProtectOptions(c)
		if err != nil {
			return err
		}
		o, v, err := setup(c)
		if err != nil {
			return err
		}
		return run(c.Context, o, v, opts, c.App.Reader, c.App.Writer, c.App.ErrWriter)
	}
}

// metadataFlags are the catalog fields protect and register both take.
func metadataFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "system", Usage: "source system name"},
		&cli.StringSliceFlag{Name: "controller", Usage: "data controller (repeatable)"},
		&cli.StringSliceFlag{Name: "category", Usage: "GDPR special category (repeatable)"},
		&cli.StringSliceFlag{Name: "label", Usage: "label key=value (repeatable)"},
	}
}

func parseProtectOptions(c *cli.Context) (protectOptions, error) {
	if err := requireArgs(c, 1, "FILE"); err != nil {
		return protectOptions{}, err
	}
	labels, err := parseLabels(c.StringSlice("label"))
	opts := protectOptions{
		Files: c.Args().Slice(), Name: c.String("name"), NoStorageHold: c.Bool("no-storage-hold"), AllowDup: c.Bool("allow-duplicate"), OutDir: c.String("out"), System: c.String("system"),
		Controllers: c.StringSlice("controller"), Categories: c.StringSlice("category"), Labels: labels,
		Parallel: max(1, c.Int("parallel")),
	}
	if opts.Parallel > 64 {
		return opts, usagef("--parallel must be 1 to 64")
	}
	if err != nil {
		return opts, err
	}
	if err := opts.checkStdin(); err != nil {
		return opts, err
	}
	req := opts.request("", nil)
	if err := req.Validate(); err != nil {
		return opts, usagef("%v", err)
	}
	return opts, nil
}

// checkStdin allows "-" (standard input) only alone and with a --name.
func (o protectOptions) checkStdin() error {
	for _, f := range o.Files {
		if f == "-" && (len(o.Files) != 1 || o.Name == "") {
			return usagef("\"-\" reads standard input: give it alone, with --name NAME")
		}
	}
	if o.Name != "" && (len(o.Files) != 1 || o.Files[0] != "-") {
		return usagef("--name names a backup read from standard input (\"-\")")
	}
	return nil
}

func (o protectOptions) request(file string, stdin io.Reader) shred.ProtectRequest {
	req := shred.ProtectRequest{Source: file, OutDir: o.OutDir, NoStorageHold: o.NoStorageHold, AllowDuplicate: o.AllowDup, System: o.System,
		Controllers: o.Controllers, Categories: o.Categories, Labels: o.Labels}
	if file == "-" {
		req.Source, req.Input, req.Name = "", stdin, o.Name
	}
	return req
}

// checkDistinctOutputs refuses, before anything is written, a batch in
// which two files would be written to one NAME.age: the second would find
// the first's ciphertext in place and fail beside it.
func checkDistinctOutputs(files []string) error {
	seen := make(map[string]string, len(files))
	for _, f := range files {
		name := filepath.Base(f) + ".age"
		if other, ok := seen[name]; ok {
			return usagef("%s and %s would both be written to %s: protect them into different --out directories", other, f, name)
		}
		seen[name] = f
	}
	return nil
}

func parseLabels(kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	labels := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, val, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usagef("--label %q: want key=value", kv)
		}
		labels[k] = val
	}
	return labels, nil
}

func runProtect(ctx context.Context, o globalOptions, v *shred.Service, opts protectOptions, stdin io.Reader, stdout, stderr io.Writer) error {
	if err := checkDistinctOutputs(opts.Files); err != nil {
		return err
	}
	return runEachFile(ctx, o, v, opts.Files, opts.Parallel, stdout, stderr, "protect",
		func(actor shred.Actor, file string) (*catalog.Backup, error) {
			req := opts.request(file, stdin)
			update, finish := bytesProgress(stderr, "protecting "+file)
			req.Progress = update
			defer finish()
			return v.Protect(ctx, actor, req)
		},
		func(file string, b *catalog.Backup) {
			printf(stdout, "protected %s as %s -> %s (sha256 %s)\n", file, b.ID, b.Ciphertext.Path, b.Ciphertext.SHA256)
		})
}

// runEachFile applies do to every file as the token's actor, parallel at
// a time, printing each success in text mode as it completes and all of
// them, in the order given, at the end in json mode.
func runEachFile(ctx context.Context, o globalOptions, v *shred.Service, files []string, parallel int, stdout, stderr io.Writer, what string,
	do func(shred.Actor, string) (*catalog.Backup, error), show func(string, *catalog.Backup)) error {
	actor, err := v.WhoAmI(ctx)
	if err != nil {
		return err
	}
	if len(files) > 1 {
		noteDefaultPolicy(actor, stderr)
	}
	results := make([]*catalog.Backup, len(files))
	var mu sync.Mutex
	idx := make([]int, len(files))
	for i := range idx {
		idx[i] = i
	}
	errs := par.Each(ctx, idx, max(1, parallel), func(_ context.Context, i int) error {
		file := files[i]
		b, err := do(actor, file)
		if err != nil {
			if !strings.Contains(err.Error(), file) {
				err = fmt.Errorf("%s: %w", file, err)
			}
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		results[i] = b
		if o.Format == "text" {
			show(file, b)
		}
		return nil
	})
	var done []*catalog.Backup
	var failures []error
	for i, err := range errs {
		if err != nil {
			failures = append(failures, err)
		} else if results[i] != nil {
			done = append(done, results[i])
		}
	}
	if o.Format == "json" {
		if err := writeJSON(stdout, nonNil(done)); err != nil {
			return err
		}
	}
	return batchResult(stderr, len(done), failures, what)
}

// batchResult reports the failures of a command over several items and
// turns them into one error: nil if all succeeded, the error itself if the
// only item failed, ErrPartial if some succeeded.
func batchResult(stderr io.Writer, ok int, failures []error, what string) error {
	switch {
	case len(failures) == 0:
		return nil
	case ok == 0 && len(failures) == 1:
		return failures[0]
	}
	for _, err := range failures {
		fmt.Fprintf(stderr, "cryptoshred: %v\n", err)
	}
	if ok == 0 {
		return fmt.Errorf("%s failed for all %d: %w", what, len(failures), failures[0])
	}
	return fmt.Errorf("%s: %d done, %d failed: %w", what, ok, len(failures), shred.ErrPartial)
}
