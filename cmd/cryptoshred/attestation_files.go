package main

import (
	"fmt"
	"io"
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

	index attest.PartIndex
}

// write writes every part's envelope (and bundle), each atomically, then
// the index, and returns the index's file name.
func (pf *partFiles) write(parts []*shred.AttestationPart) (string, error) {
	for _, p := range parts {
		if err := pf.WritePart(p); err != nil {
			return "", err
		}
	}
	return pf.writeIndex()
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

func (pf *partFiles) writePart(p *shred.AttestationPart) (attest.IndexEntry, error) {
	e := attest.IndexEntry{Index: p.Index, File: filepath.Base(attest.PartFileName(pf.Out, p.Index)),
		SHA256: attest.SHA256Hex(p.Envelope), First: p.First, Last: p.Last, Backups: p.Backups}
	if err := writeBytes(attest.PartFileName(pf.Out, p.Index), p.Envelope); err != nil {
		return e, fmt.Errorf("failed to write %s: %w", attest.PartFileName(pf.Out, p.Index), err)
	}
	if pf.Bundle == "" {
		return e, nil
	}
	name := attest.PartFileName(pf.Bundle, p.Index)
	if err := writeBytes(name, p.Bundle); err != nil {
		return e, fmt.Errorf("failed to write %s: %w", name, err)
	}
	e.Bundle = name
	if rel, err := filepath.Rel(filepath.Dir(pf.Out), name); err == nil {
		e.Bundle = rel
	}
	return e, nil
}

func writeBytes(path string, b []byte) error {
	return fsutil.WriteFileAtomic(path, func(w io.Writer) error { _, err := w.Write(b); return err })
}

// partsOf describes stored envelopes as parts, for writing them again:
// their ranges are read from the statements, unverified (the index is a
// hint; the signed parts are the evidence).
func partsOf(envs [][]byte) ([]*shred.AttestationPart, string, error) {
	var out []*shred.AttestationPart
	caseID := ""
	for _, env := range envs {
		st, err := attest.ParseUnverified(env)
		if err != nil {
			return nil, "", fmt.Errorf("failed to read part: %w", err)
		}
		caseID = st.Predicate.Case.ID
		out = append(out, shred.NewAttestationPart(st, env, nil))
	}
	return out, caseID, nil
}
