package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/internal/fsutil"
	"github.com/cryptoshred/cryptoshred/shred"
)

// partFiles is where the parts of one attestation go: envelopes named
// from Out (attest.PartFileName; ID.dsse.json when Out is empty), bundles
// from Bundle when it is set, and the unsigned index beside the envelopes.
// It takes the parts one at a time as they are issued (shred.PartWriter)
// and keeps only their index entries.
type partFiles struct {
	ID, Case    string
	Out, Bundle string

	index   attest.PartIndex
	written []string
}

// WritePart writes p's envelope and bundle and notes p in the index.
func (pf *partFiles) WritePart(p *shred.AttestationPart) error {
	if pf.ID == "" {
		pf.ID = p.Attestation
	}
	if pf.Out == "" {
		pf.Out = pf.ID + ".dsse.json"
	}
	e, err := pf.writePart(p)
	if err != nil {
		return err
	}
	pf.index.Parts = append(pf.index.Parts, e)
	pf.index.Backups += p.Backups
	return nil
}

// writeIndex writes the index of the parts written, and returns its name.
func (pf *partFiles) writeIndex() (string, error) {
	pf.index.AttestationID, pf.index.Case = pf.ID, pf.Case
	name := attest.IndexFileName(pf.Out)
	if err := fsutil.WriteFileAtomic(name, func(w io.Writer) error { return writeJSON(w, pf.index) }); err != nil {
		return "", fmt.Errorf("failed to write the index of attestation %s: %w", pf.ID, err)
	}
	return name, nil
}

// writePart writes p's envelope and, if asked, its bundle, trying both
// whatever happens to the other: the bundle's timestamps are stored
// nowhere else.
func (pf *partFiles) writePart(p *shred.AttestationPart) (attest.IndexEntry, error) {
	name := attest.PartFileName(pf.Out, p.Index)
	e := attest.IndexEntry{Index: p.Index, File: filepath.Base(name),
		SHA256: attest.SHA256Hex(p.Envelope), First: p.First, Last: p.Last, Backups: p.Backups}
	var errEnv, errBundle error
	if errEnv = pf.create(name, p.Envelope); errEnv != nil {
		errEnv = fmt.Errorf("failed to write %s: %w", name, errEnv)
	}
	if pf.Bundle == "" {
		return e, errEnv
	}
	bundle := attest.PartFileName(pf.Bundle, p.Index)
	if errBundle = pf.create(bundle, p.Bundle); errBundle != nil {
		errBundle = fmt.Errorf("failed to write %s, and its RFC 3161 timestamps are not stored in Vault: %w", bundle, errBundle)
	}
	e.Bundle = bundle
	if rel, err := filepath.Rel(filepath.Dir(pf.Out), bundle); err == nil {
		e.Bundle = rel
	}
	return e, errors.Join(errEnv, errBundle)
}

// create writes b to the new file name and remembers it.
func (pf *partFiles) create(name string, b []byte) error {
	if err := writeBytes(name, b); err != nil {
		return err
	}
	pf.written = append(pf.written, name)
	return nil
}

// removeWritten removes the files written for an attestation that failed
// before its last part: they are not a complete attestation, and a re-run
// with the same names issues one. It returns the names removed.
func (pf *partFiles) removeWritten() []string {
	var removed []string
	for _, name := range pf.written {
		if os.Remove(name) == nil {
			removed = append(removed, name)
		}
	}
	pf.written = nil
	return removed
}

// output is a file a command will create, and which of its outputs it is
// (for a message that names two outputs given the same file).
type output struct{ name, what string }

// outputs returns the files the parts of an attestation of parts parts
// go to: each part's envelope (none when Out is empty: they are named
// from an id not issued yet) and bundle, and the index of several parts.
func (pf *partFiles) outputs(parts int) []output {
	var outs []output
	for _, f := range []struct{ base, flag string }{{pf.Out, "-o"}, {pf.Bundle, "--bundle"}} {
		for i := 1; f.base != "" && i <= parts; i++ {
			what := f.flag
			if i > 1 {
				what = fmt.Sprintf("part %d of %s", i, f.flag)
			}
			outs = append(outs, output{attest.PartFileName(f.base, i), what})
		}
	}
	if pf.Out != "" && parts > 1 {
		outs = append(outs, output{attest.IndexFileName(pf.Out), "the index of -o"})
	}
	return outs
}

// checkNewOutputs refuses, before anything is written or destroyed, two
// outputs that name the same file (a usage error), and outputs that
// could not be created: one that exists, or one whose directory does not
// exist or takes no new file (fsutil.CheckCreatable).
func checkNewOutputs(outs []output) error {
	seen := make(map[string]output, len(outs))
	names := make([]string, 0, len(outs))
	dirs := map[string]string{}
	for _, o := range outs {
		key := sameFileKey(o.name, dirs)
		if prev, ok := seen[key]; ok {
			return usagef("%s and %s both name %s: each output needs a file of its own", prev.what, o.what, o.name)
		}
		seen[key] = o
		names = append(names, o.name)
	}
	return fsutil.CheckCreatable(names...)
}

// sameFileKey is the same for two names of one file in one directory,
// however the directory is spelt (relative, with .., through a symbolic
// link). resolved keeps each directory's resolution: an attestation in
// parts has thousands of names in one or two directories.
func sameFileKey(name string, resolved map[string]string) string {
	abs, err := filepath.Abs(name)
	if err != nil {
		return filepath.Clean(name)
	}
	dir := filepath.Dir(abs)
	real, ok := resolved[dir]
	if !ok {
		if real, err = filepath.EvalSymlinks(dir); err != nil {
			real = dir
		}
		resolved[dir] = real
	}
	return filepath.Join(real, filepath.Base(abs))
}

func writeBytes(path string, b []byte) error {
	return fsutil.WriteFileAtomic(path, func(w io.Writer) error { _, err := w.Write(b); return err })
}

// storedPart describes a stored envelope as the part it is, for writing
// it again, and returns its case: its range is read from the statement,
// unverified (the index is a hint; the signed parts are the evidence).
func storedPart(env []byte) (*shred.AttestationPart, string, error) {
	st, err := attest.ParseUnverified(env)
	if err != nil {
		return nil, "", fmt.Errorf("failed to read part: %w", err)
	}
	return shred.NewAttestationPart(st, env, nil), st.Predicate.Case.ID, nil
}
