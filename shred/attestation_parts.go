package shred

import (
	"context"
	"errors"
	"fmt"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/errs"
	"github.com/cryptoshred/cryptoshred/shred/ledger"
)

// AttestationPart is one signed statement of an attestation: the whole
// attestation (Index 1 of 1), or one part of an attestation issued in
// parts. StoredID is the id it is stored under in Vault.
type AttestationPart struct {
	Index, Of   int
	Attestation string
	StoredID    string
	First, Last string
	Envelope    []byte
	Bundle      []byte
	Backups     int
}

// PartWriter takes each part of an attestation as soon as it is signed
// and stored, in order (see AttestOptions.Parts).
type PartWriter interface {
	WritePart(p *AttestationPart) error
}

// PartID is the id part index of attestation id is stored under:
// <id>-pNNNN.
func PartID(id string, index int) string {
	return fmt.Sprintf("%s-p%04d", id, index)
}

// checkParts refuses, before any key is destroyed, a part size no
// envelope holds or a case of more parts than an attestation may have.
func checkParts(plan *Plan, opts AttestOptions) error {
	size := partSize(opts)
	if err := checkPartSize(size); err != nil {
		return err
	}
	if parts := plan.AttestationParts(size); parts > attest.MaxParts {
		n := plan.Count(ActionDestroy) + plan.Count(ActionDone)
		return errs.Refusedf("case %s would attest %d backups in %d parts, more than an attestation has (%d): %s; "+
			"hold the backups under several cases", plan.Case.ID, n, parts, attest.MaxParts, plan.DestroyedNothing())
	}
	return nil
}

// AttestationParts returns how many parts of size backups each
// (attest.DefaultPartSize if size is 0 or less) the attestation of a run
// of p has by count alone: one per size of the backups p destroys or found
// destroyed. A part is split by size too, which can add parts
// (MostAttestationParts).
func (p *Plan) AttestationParts(size int) int {
	if size <= 0 {
		size = attest.DefaultPartSize
	}
	n := p.Count(ActionDestroy) + p.Count(ActionDone)
	return (n + size - 1) / size
}

// MostAttestationParts bounds how many parts the attestation of a run of
// p can have, whatever splits them: each part holds at least one backup.
func (p *Plan) MostAttestationParts() int {
	return min(p.Count(ActionDestroy)+p.Count(ActionDone), attest.MaxParts)
}

func checkPartSize(size int) error {
	if size < 1 || size > attest.MaxPartSize {
		return fmt.Errorf("the attestation part size must be 1 to %d backups, not %d", attest.MaxPartSize, size)
	}
	return nil
}

func partSize(opts AttestOptions) int {
	if opts.PartSize == 0 {
		return attest.DefaultPartSize
	}
	return opts.PartSize
}

// issue signs and stores the attestation of c's recorded destructions:
// one statement, or parts of at most opts.PartSize backups. Each part is
// signed, timestamped, stored and handed to opts.Parts before the next is
// made, so no more than one part is held at a time; should a later part
// fail, the parts stored before it are an incomplete attestation that
// `attest verify` reports as such. known, if not nil, is what the run
// that calls it learnt itself.
func (s *Service) issue(ctx context.Context, actor Actor, c *catalog.Case, opts AttestOptions, known *runReads) (*Attestation, error) {
	size := partSize(opts)
	if err := checkPartSize(size); err != nil {
		return nil, err
	}
	d, excluded, err := s.buildDeletion(ctx, actor, c, opts, known)
	if err != nil {
		return nil, err
	}
	parts := d.parts(size)
	if err := d.checkStatements(parts); err != nil {
		return nil, err
	}
	a := &Attestation{ID: d.predicate.AttestationID, Backups: len(d.backups), Timestamps: len(opts.Timestampers), LeftOut: excluded}
	of := len(parts)
	var writeErr error
	for i, part := range parts {
		index := i + 1
		st, err := d.statement(part, index, of)
		var p *AttestationPart
		if err == nil {
			p, err = signPart(ctx, st, opts)
		}
		if err == nil {
			err = s.storePart(ctx, actor, c.ID, a.ID, p)
		}
		if err != nil {
			return nil, a.partFailed(index, of, err)
		}
		if err := a.add(p, opts.Parts, opts.DiscardWritten); err != nil && writeErr == nil {
			writeErr = fmt.Errorf("attestation %s is stored in Vault (its envelopes, not its bundles), but not all its files were written: %w", a.ID, err)
		}
	}
	return a, errors.Join(batchError(len(d.backups), excluded), writeErr)
}

// statement returns the statement of part index of of, whose subjects are
// backups.
func (d *deletion) statement(backups []*catalog.Backup, index, of int) (*attest.Statement, error) {
	p, digests, err := d.describe(backups)
	if err != nil {
		return nil, err
	}
	return attest.PartStatement(p, digests, index, of), nil
}

// partFailed describes the failure of part index of of, naming the parts
// of a already stored.
func (a *Attestation) partFailed(index, of int, err error) error {
	if len(a.Parts) == 0 {
		return err
	}
	return fmt.Errorf("part %d of %d of attestation %s failed, and parts 1 to %d are stored as an incomplete attestation: %w", index, of, a.ID, len(a.Parts), err)
}

// add keeps p as a's next part and hands it to w, if set; once w has
// taken a part after the first (with discard, any part), the part's bytes
// are dropped (a part w could not take keeps them: its bundle is stored
// nowhere else).
func (a *Attestation) add(p *AttestationPart, w PartWriter, discard bool) error {
	if len(a.Parts) == 0 {
		a.Envelope, a.Bundle = p.Envelope, p.Bundle
	}
	a.Parts = append(a.Parts, p)
	if w == nil {
		return nil
	}
	err := w.WritePart(p)
	if err == nil && (p.Index > 1 || discard) {
		p.Envelope, p.Bundle = nil, nil
		if p.Index == 1 {
			a.Envelope, a.Bundle = nil, nil
		}
	}
	return err
}

// signPart signs st and wraps it in a timestamped bundle.
func signPart(ctx context.Context, st *attest.Statement, opts AttestOptions) (*AttestationPart, error) {
	env, err := attest.Sign(ctx, st, opts.Signer)
	if err != nil {
		return nil, err
	}
	bundle, err := newBundle(ctx, env, opts)
	if err != nil {
		return nil, err
	}
	return NewAttestationPart(st, env, bundle), nil
}

// NewAttestationPart describes the signed statement st, in envelope env
// and bundle, as the part of its attestation it is (1 of 1 when st is a
// whole attestation).
func NewAttestationPart(st *attest.Statement, env, bundle []byte) *AttestationPart {
	id := st.Predicate.AttestationID
	p := &AttestationPart{Index: 1, Of: 1, Attestation: id, StoredID: id, Envelope: env, Bundle: bundle, Backups: len(st.Subject)}
	if pp := st.Predicate.Part; pp != nil {
		p.Index, p.Of, p.First, p.Last = pp.Index, pp.Of, pp.First, pp.Last
		p.StoredID = PartID(id, pp.Index)
	}
	return p
}

// storePart stores one part in Vault and records it in the ledger with
// its envelope's SHA-256.
func (s *Service) storePart(ctx context.Context, actor Actor, caseID, id string, p *AttestationPart) error {
	info := catalog.AttestationInfo{ID: p.StoredID, Case: caseID}
	details := map[string]string{"attestation": id, "envelopeSha256": attest.SHA256Hex(p.Envelope), "backups": fmt.Sprint(p.Backups)}
	if p.Of > 1 {
		info.Attestation, info.Part, info.Of = id, p.Index, p.Of
		details["part"], details["of"], details["stored"] = fmt.Sprint(p.Index), fmt.Sprint(p.Of), p.StoredID
	}
	if err := s.catalog.PutAttestation(ctx, info, p.Envelope); err != nil {
		return fmt.Errorf("attestation signed but not stored in Vault: %w", err)
	}
	_, err := s.ledger.Append(ctx, actor.String(), ledger.Event{Kind: ledger.KindAttestationIssued, Case: caseID, Details: details})
	return err
}

// AttestationParts returns how many parts attestation id is stored in: 1
// for one stored whole (or for a part asked for by its own id, PartID).
func (s *Service) AttestationParts(ctx context.Context, id string) (int, error) {
	_, err := s.catalog.AttestationInfo(ctx, id)
	if err == nil || !errors.Is(err, errs.ErrNotFound) {
		return 1, err
	}
	first, ferr := s.catalog.AttestationInfo(ctx, PartID(id, 1))
	if ferr != nil || first.Of < 2 {
		return 0, err // not found as a whole nor in parts
	}
	return first.Of, nil
}

// GetAttestationPart returns the stored envelope of part index of the
// attestation id stored in of parts (AttestationParts; 1 of 1 is the whole
// attestation), checked against the SHA-256 recorded when it was stored.
func (s *Service) GetAttestationPart(ctx context.Context, id string, index, of int) ([]byte, error) {
	if of == 1 {
		return s.catalog.GetAttestation(ctx, id)
	}
	env, err := s.catalog.GetAttestation(ctx, PartID(id, index))
	if err != nil {
		return nil, fmt.Errorf("failed to read part %d of %d of attestation %s: %w", index, of, id, err)
	}
	return env, nil
}

// GetAttestationParts returns the stored envelopes of attestation id: its
// parts in order, or the whole attestation alone. Each is held in memory;
// GetAttestationPart reads one at a time.
func (s *Service) GetAttestationParts(ctx context.Context, id string) ([][]byte, error) {
	of, err := s.AttestationParts(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, 0, of)
	for i := 1; i <= of; i++ {
		env, err := s.GetAttestationPart(ctx, id, i, of)
		if err != nil {
			return nil, err
		}
		out = append(out, env)
	}
	return out, nil
}
