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
// from out (attest.PartFileName), bundles from bundle when it is set, and
// the unsigned index beside the envelopes.
type partFiles struct {
	ID, Case    string
	Out, Bundle string
}

// write writes every part's envelope (and bundle), each atomically, then
// the index, and returns the index's file name.
func (pf partFiles) write(parts []*shred.AttestationPart) (string, error) {
	idx := attest.PartIndex{AttestationID: pf.ID, Case: pf.Case}
	for _, p := range parts {
		e, err := pf.writePart(p)
		if err != nil {
			return "", err
		}
		idx.Parts = append(idx.Parts, e)
		idx.Backups += p.Backups
	}
	name := attest.IndexFileName(pf.Out)
	if err := fsutil.WriteFileAtomic(name, func(w io.Writer) error { return writeJSON(w, idx) }); err != nil {
		return "", fmt.Errorf("failed to write the index of attestation %s: %w", pf.ID, err)
	}
	return name, nil
}

func (pf partFiles) writePart(p *shred.AttestationPart) (attest.IndexEntry, error) {
	e := attest.IndexEntry{Index: p.Index, File: filepath.Base(attest.PartFileName(pf.Out, p.Index)),
		SHA256: attest.SHA256Hex(p.Envelope), First: p.First, Last: p.Last, Backups: p.Backups}
	if err := writeBytes(attest.PartFileName(pf.Out, p.Index), p.Envelope); err != nil {
		return e, fmt.Errorf("failed to write part %d of %d of attestation %s: %w", p.Index, p.Of, pf.ID, err)
	}
	if pf.Bundle == "" {
		return e, nil
	}
	name := attest.PartFileName(pf.Bundle, p.Index)
	if err := writeBytes(name, p.Bundle); err != nil {
		return e, fmt.Errorf("failed to write the bundle of part %d of %d of attestation %s: %w", p.Index, p.Of, pf.ID, err)
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
