package shred

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/cryptoshred/cryptoshred/attest"
)

// AttestOptions are what an attestation needs beyond the catalog.
type AttestOptions struct {
	Signer signature.Signer
	// SnapshotRetention is how long Vault snapshots taken before the
	// destruction are kept: they still hold the keys until then. It must
	// be declared; cryptoshred refuses to guess.
	SnapshotRetention time.Duration
	ToolVersion       string
	Operator          string
}

// Attestation is a signed deletion attestation as issued.
type Attestation struct {
	ID       string
	Envelope []byte
	Backups  int
}

// residualRisks are stated in every attestation.
var residualRisks = []string{
	"Vault snapshots taken before destroyedAt contain the key until residualCopiesUntil; restoring one brings the key back",
	"file keys unwrapped by an authorised open may have been retained by that process",
	"plaintext copies made before the backup was protected are not erased by destroying its key (see each backup's original)",
}

// CheckAttestable refuses, before any key is destroyed, a run whose
// attestation could not be issued: no declared snapshot retention, no
// data controller on record, or a signer that cannot sign (a Vault key the
// token may not use, say).
func (v *Vault) CheckAttestable(ctx context.Context, caseID string, opts AttestOptions) error {
	if opts.SnapshotRetention <= 0 {
		return errors.New("the Vault snapshot retention must be declared (--vault-snapshot-retention): the attestation states until when snapshots may still hold the keys")
	}
	c, _, err := v.GetCase(ctx, caseID)
	if err != nil {
		return err
	}
	if err := v.checkControllers(ctx, c); err != nil {
		return err
	}
	if _, err := opts.Signer.SignMessage(strings.NewReader("cryptoshred signer check")); err != nil {
		return refusedf("the signing key cannot sign, so no attestation could be issued: %v", err)
	}
	return nil
}

// checkControllers refuses a case where neither the case nor any of its
// backups names a data controller: the attestation must say whose data it was.
func (v *Vault) checkControllers(ctx context.Context, c *Case) error {
	if len(c.Controllers) > 0 {
		return nil
	}
	ids, err := v.heldIDs(ctx, c.ID)
	if err != nil {
		return err
	}
	backups, err := parallelMap(ctx, ids, DefaultParallel, func(ctx context.Context, id string) (*Backup, error) {
		b, _, err := v.GetBackup(ctx, id)
		return b, err
	})
	if err != nil {
		return err
	}
	if len(controllers(c, backups)) == 0 {
		return refusedf("no data controller is recorded for case %s or its backups: name one with case open --controller or backup protect --controller", c.ID)
	}
	return nil
}

// Attest issues a signed attestation covering every backup of a closed
// case whose key destruction is recorded. It stores the envelope in KV
// attestations/<id> and records it in the ledger.
func (v *Vault) Attest(ctx context.Context, actor Actor, caseID string, opts AttestOptions) (*Attestation, error) {
	if opts.SnapshotRetention <= 0 {
		return nil, errors.New("the Vault snapshot retention must be declared (--vault-snapshot-retention): the attestation states until when snapshots may still hold the keys")
	}
	d, digests, err := v.buildDeletion(ctx, actor, caseID, opts)
	if err != nil {
		return nil, err
	}
	env, err := attest.Sign(ctx, attest.NewStatement(*d, digests), opts.Signer)
	if err != nil {
		return nil, err
	}
	return v.storeAttestation(ctx, actor, caseID, d, env)
}

func (v *Vault) storeAttestation(ctx context.Context, actor Actor, caseID string, d *attest.Deletion, env []byte) (*Attestation, error) {
	a := &Attestation{ID: d.AttestationID, Envelope: env, Backups: len(d.Backups)}
	if err := v.putAttestation(ctx, a.ID, caseID, env); err != nil {
		return a, fmt.Errorf("attestation signed but not stored in Vault: %w", err)
	}
	_, err := v.Append(ctx, actor.String(), Event{Event: EventAttestationIssued, Case: caseID,
		Details: map[string]string{"attestation": a.ID, "envelopeSha256": sha256Hex(env), "backups": fmt.Sprint(a.Backups)}})
	return a, err
}

// attestationPart is the most of an envelope one KV entry holds: Vault's
// integrated storage refuses entries over 1 MiB by default, and a case of
// a thousand backups signs a larger statement.
const attestationPart = 512 << 10

// putAttestation stores env in parts under attestations/<id>/<n>, then the
// index attestations/<id> naming their count and the envelope's SHA-256.
func (v *Vault) putAttestation(ctx context.Context, id, caseID string, env []byte) error {
	parts := 0
	for chunk := range slices.Chunk(env, attestationPart) {
		if _, err := v.kvPut(ctx, fmt.Sprintf("attestations/%s/%d", id, parts), map[string]any{"data": string(chunk)}, 0); err != nil {
			return err
		}
		parts++
	}
	_, err := v.kvPut(ctx, "attestations/"+id, map[string]any{"case": caseID, "parts": parts, "sha256": sha256Hex(env)}, 0)
	return err
}

// GetAttestation returns a stored envelope, checked against the SHA-256
// its index records.
func (v *Vault) GetAttestation(ctx context.Context, id string) ([]byte, error) {
	if err := checkID("attestation", id); err != nil {
		return nil, err
	}
	rec, err := v.kvGet(ctx, "attestations/"+id)
	if err != nil {
		return nil, err
	}
	count, _ := rec.Data["parts"].(json.Number)
	parts, _ := count.Int64()
	var env []byte
	for n := range min(parts, 1<<10) {
		part, err := v.kvGet(ctx, fmt.Sprintf("attestations/%s/%d", id, n))
		if err != nil {
			return nil, err
		}
		s, _ := part.Data["data"].(string)
		env = append(env, s...)
	}
	if sha256Hex(env) != rec.Data["sha256"] {
		return nil, fmt.Errorf("stored attestation %s does not match its recorded SHA-256", id)
	}
	return env, nil
}

// ledgerFacts is what the attestation takes from the (verified) ledger.
type ledgerFacts struct {
	head     Head
	unwraps  map[string]attest.KeyUnwraps
	holds    map[string][]attest.Hold
	placedAt map[string]time.Time
}

func (v *Vault) buildDeletion(ctx context.Context, actor Actor, caseID string, opts AttestOptions) (*attest.Deletion, map[string]string, error) {
	c, _, err := v.GetCase(ctx, caseID)
	if err != nil {
		return nil, nil, err
	}
	backups, err := v.shreddedBackups(ctx, caseID)
	if err != nil {
		return nil, nil, err
	}
	facts, err := v.ledgerFacts(ctx)
	if err != nil {
		return nil, nil, err
	}
	if len(controllers(c, backups)) == 0 {
		return nil, nil, refusedf("no data controller is recorded for case %s or its backups", caseID)
	}
	ks, err := v.keyStore(ctx, opts.SnapshotRetention)
	if err != nil {
		return nil, nil, err
	}
	d := &attest.Deletion{
		AttestationID: "att-" + strings.ToLower(ulid.Make().String()),
		IssuedAt:      now(),
		Controllers:   controllers(c, backups),
		Case:          attestCase(c),
		Method: attest.Method{Standard: attest.MethodStandard, Category: attest.MethodCategory, Technique: attest.MethodTechnique,
			Cipher: "age v1: file key wrapped by Vault Transit aes256-gcm96; payload ChaCha20-Poly1305", KeyStrengthBits: 256},
		KeyStore:      ks,
		Operator:      attest.Operator{Name: opts.Operator, VaultIdentity: attest.VaultIdentity(actor)},
		ResidualRisks: residualRisks,
		Tool:          attest.Tool{Name: "cryptoshred", Version: opts.ToolVersion},
		Ledger:        attest.Ledger{Head: facts.head.Hash, Entries: facts.head.Seq},
	}
	digests := map[string]string{}
	for _, b := range backups {
		ab, err := attestBackup(b, facts, ks, subjectName(b, backups))
		if err != nil {
			return nil, nil, err
		}
		d.Backups = append(d.Backups, ab)
		digests[ab.Subject] = b.Ciphertext.SHA256
	}
	return d, digests, nil
}

// shreddedBackups returns the case's backups whose destruction is
// recorded; refuses if there are none.
func (v *Vault) shreddedBackups(ctx context.Context, caseID string) ([]*Backup, error) {
	ids, err := v.heldIDs(ctx, caseID)
	if err != nil {
		return nil, err
	}
	all, err := parallelMap(ctx, ids, DefaultParallel, func(ctx context.Context, id string) (*Backup, error) {
		b, _, err := v.GetBackup(ctx, id)
		return b, err
	})
	if err != nil {
		return nil, err
	}
	done := slices.DeleteFunc(all, func(b *Backup) bool {
		return b.State != StateShredded || b.Destruction == nil || !b.Destruction.Recorded
	})
	if len(done) == 0 {
		return nil, refusedf("case %s has no recorded key destruction to attest", caseID)
	}
	return done, nil
}

func (v *Vault) keyStore(ctx context.Context, retention time.Duration) (attest.KeyStore, error) {
	h, err := v.client.Sys().HealthWithContext(ctx)
	if err != nil {
		return attest.KeyStore{}, vaultError("read", "sys/health", err)
	}
	return attest.KeyStore{Kind: "vault", Address: v.Address(), TransitMount: v.mounts.Transit,
		Version: h.Version, SnapshotRetention: retention.String()}, nil
}

func controllers(c *Case, backups []*Backup) []string {
	out := slices.Clone(c.Controllers)
	for _, b := range backups {
		for _, c := range b.Controllers {
			if !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	slices.Sort(out)
	return out
}

func attestCase(c *Case) attest.Case {
	d := c.Decision
	return attest.Case{ID: c.ID, Authority: c.Authority, Reference: c.Reference, OpenedAt: c.OpenedAt, ClosedAt: c.ClosedAt,
		Decision: attest.Decision{Reference: d.Reference, Document: attest.Document(d.Document), RecordedBy: d.RecordedBy, RecordedAt: d.RecordedAt}}
}

// subjectName is the ciphertext's file name, qualified by the backup id
// when two backups of the attestation share a name.
func subjectName(b *Backup, all []*Backup) string {
	n := 0
	for _, o := range all {
		if o.Name == b.Name {
			n++
		}
	}
	if n > 1 {
		return b.ID + "/" + b.Name
	}
	return b.Name
}
