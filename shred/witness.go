package shred

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/oklog/ulid/v2"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/internal/parallel"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/errs"
	"github.com/cryptoshred/cryptoshred/shred/ledger"
	"github.com/cryptoshred/cryptoshred/shred/storage"
)

// WitnessOptions are what a witness needs: the attestation's signer's
// public key, the witness's own signing key, and names for the record.
type WitnessOptions struct {
	Verifier    signature.Verifier
	Signer      signature.Signer
	ToolVersion string
	Operator    string
}

// Witness is an independent check of a deletion attestation, meant for an
// auditor with a read-only token: it verifies env's signature, then asks
// Vault and the storage themselves, not any record, that every subject's
// key is gone with the mount present, that the ledger verifies and still
// holds the attested head, and that each ciphertext is gone from where it
// was stored; the key and the ciphertext are those each backup's
// write-once registration names. Only if all of that holds does it sign
// a witness statement.
func (s *Service) Witness(ctx context.Context, actor Actor, env []byte, opts WitnessOptions) ([]byte, error) {
	rep, err := attest.Verify(ctx, env, opts.Verifier, attest.VerifyOptions{})
	if err != nil {
		return nil, err
	}
	st := rep.Statement
	lrep, err := s.ledgerWitness(ctx, st)
	if err != nil {
		return nil, err
	}
	backups, err := s.witnessBackups(ctx, st)
	if err != nil {
		return nil, err
	}
	ks, err := s.keys.Describe(ctx)
	if err != nil {
		return nil, err
	}
	w := attest.Witness{WitnessID: "wit-" + strings.ToLower(ulid.Make().String()), IssuedAt: catalog.Now(),
		Attestation: attest.WitnessedAttestation{SignerKeyFingerprint: rep.KeyFingerprint}, KeyStore: ks,
		Witness: attest.Operator{Name: opts.Operator, VaultIdentity: actor}, Ledger: lrep, Backups: backups,
		Tool: attest.Tool{Name: "cryptoshred", Version: opts.ToolVersion}}
	return attest.SignWitness(ctx, attest.NewWitnessStatement(w, env, st), opts.Signer)
}

// ledgerWitness verifies the ledger and that the attested head is in it.
// Findings (junk any role may write into the next slot, a head hint
// edited) are stated, not refused: the chain holds together through them,
// and no role can remove one, so refusing would let any role stop every
// witness for good.
func (s *Service) ledgerWitness(ctx context.Context, st *attest.Statement) (attest.WitnessLedger, error) {
	l := st.Predicate.Ledger
	cp := ledger.Checkpoint{Name: "attestation " + st.Predicate.AttestationID, Head: ledger.Head{Seq: l.Entries, Hash: l.Head}, Slots: l.Slots}
	rep, err := ledger.VerifyCheckpoints(ctx, s.ledger, []ledger.Checkpoint{cp})
	var found *ledger.FindingsError
	if err != nil && !errors.As(err, &found) {
		return attest.WitnessLedger{}, errs.Refusedf("not witnessed: %v", err)
	}
	return attest.WitnessLedger{Head: rep.Head, Entries: rep.Entries, AttestedHeadInChain: true, Findings: findingSlots(rep.Findings)}, nil
}

// findingSlots returns the slots of findings, 0 for the head hint's: only
// numbers, since what a role wrote into a slot is not the witness's to
// repeat.
func findingSlots(findings []ledger.Finding) []int64 {
	var out []int64
	for _, f := range findings {
		if !slices.Contains(out, f.Seq) {
			out = append(out, f.Seq)
		}
	}
	return out
}

// witnessBackups checks each attested backup in Vault and the storage and
// refuses, naming them, if any is not destroyed.
func (s *Service) witnessBackups(ctx context.Context, st *attest.Statement) ([]attest.WitnessBackup, error) {
	digests := subjectDigests(st)
	out, err := parallel.Map(ctx, st.Predicate.Backups, DefaultParallel, func(ctx context.Context, b attest.Backup) (attest.WitnessBackup, error) {
		return s.witnessBackup(ctx, b, digests[b.Subject])
	})
	if err != nil {
		return nil, err
	}
	var problems []error
	for _, w := range out {
		if !w.KeyAbsent || !w.CiphertextGone {
			problems = append(problems, fmt.Errorf("backup %s: key absent %t, ciphertext gone %t", w.BackupID, w.KeyAbsent, w.CiphertextGone))
		}
	}
	if len(problems) > 0 {
		return nil, errs.Refusedf("not witnessed: %v", errors.Join(problems...))
	}
	return out, nil
}

// witnessBackup checks the key and the ciphertext that b's registration
// names, and the locations the attestation adds: whoever signs
// attestations can sign any statement, so only the write-once
// registration says which key and file a backup id stands for.
func (s *Service) witnessBackup(ctx context.Context, b attest.Backup, digest string) (attest.WitnessBackup, error) {
	w := attest.WitnessBackup{BackupID: b.BackupID, Key: b.Key.Name}
	reg, err := s.registeredAs(ctx, b, digest)
	if err != nil {
		return w, err
	}
	key, err := s.keys.KeyInfo(ctx, reg.Key)
	if err != nil {
		return w, err
	}
	// KeyInfo answers "absent" only after confirming the mount exists.
	w.KeyAbsent, w.MountPresent = key == nil, key == nil
	w.CiphertextGone, err = s.ciphertextGone(ctx, append([]string{reg.Ciphertext.Path}, b.Ciphertext.Locations...))
	w.CheckedAt = catalog.Now()
	return w, err
}

// registeredAs returns b's registration, and refuses b unless the
// attestation names the key it registers and states its ciphertext's
// digest as the subject's (digest).
func (s *Service) registeredAs(ctx context.Context, b attest.Backup, digest string) (*catalog.Registration, error) {
	reg, err := s.catalog.GetRegistration(ctx, b.BackupID)
	switch {
	case errors.Is(err, errs.ErrNotFound):
		return nil, errs.Refusedf("not witnessed: backup %s has no registration in Vault", b.BackupID)
	case err != nil:
		return nil, fmt.Errorf("failed to read the registration of backup %s: %w", b.BackupID, err)
	case b.Key.Name != reg.Key:
		return nil, errs.Refusedf("not witnessed: backup %s is attested with key %s, but its registration names key %s", b.BackupID, b.Key.Name, reg.Key)
	case digest != reg.Ciphertext.SHA256:
		return nil, errs.Refusedf("not witnessed: backup %s is attested with a subject digest that is not its registered ciphertext's", b.BackupID)
	}
	return reg, nil
}

// subjectDigests returns each subject's SHA-256 by name.
func subjectDigests(st *attest.Statement) map[string]string {
	out := make(map[string]string, len(st.Subject))
	for _, sub := range st.Subject {
		out[sub.Name] = sub.Digest["sha256"]
	}
	return out
}

// ciphertextGone asks each storage whether anything is left at
// locations.
func (s *Service) ciphertextGone(ctx context.Context, locations []string) (bool, error) {
	for _, loc := range locations {
		if u, err := url.Parse(loc); err == nil && u.Scheme == "file" {
			loc = u.Path
		}
		be, err := s.storage.For(loc)
		if err != nil {
			return false, err
		}
		if r, ok := be.(storage.Remainder); ok {
			left, err := r.Remains(ctx, loc)
			if err != nil || len(left) > 0 {
				return false, err
			}
			continue
		}
		_, err = be.Stat(ctx, loc)
		if !errors.Is(err, errs.ErrNotFound) {
			return false, err
		}
	}
	return true, nil
}
