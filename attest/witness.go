package attest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/options"
)

// WitnessPredicateType is the predicate type of a deletion witness: an
// independent party's signed statement that it checked a deletion
// attestation against Vault and the storage itself.
const WitnessPredicateType = "https://cryptoshred.dev/deletion-witness/v1"

// WitnessStatement is an in-toto Statement v1 whose subjects are the
// attestation envelope (by its SHA-256) and the ciphertexts it names, so
// cosign verifies a witness against the attestation file itself.
type WitnessStatement struct {
	Type          string    `json:"_type"`
	Subject       []Subject `json:"subject"`
	PredicateType string    `json:"predicateType"`
	Predicate     Witness   `json:"predicate"`
}

// Witness is what the witness checked, when, and against what.
type Witness struct {
	WitnessID   string               `json:"witnessId"`
	IssuedAt    time.Time            `json:"issuedAt"`
	Attestation WitnessedAttestation `json:"attestation"`
	KeyStore    KeyStore             `json:"keyStore"`
	Witness     Operator             `json:"witness"`
	Ledger      WitnessLedger        `json:"ledger"`
	Backups     []WitnessBackup      `json:"backups"`
	Tool        Tool                 `json:"tool"`
}

// WitnessedAttestation names the attestation witnessed.
type WitnessedAttestation struct {
	ID                   string `json:"id"`
	EnvelopeSHA256       string `json:"envelopeSha256"`
	SignerKeyFingerprint string `json:"signerKeyFingerprint"`
}

// WitnessLedger is the ledger as the witness found it.
type WitnessLedger struct {
	Head                string `json:"head"`
	Entries             int64  `json:"entries"`
	AttestedHeadInChain bool   `json:"attestedHeadInChain"`
	// Findings are the slots (0: the head hint) that the witness found
	// written outside cryptoshred, which the chain held together through;
	// `ledger verify` names what each holds. Omitted when there are none,
	// so only a witness that states some is refused by the verifiers of
	// versions before this field (they refuse unknown fields).
	Findings []int64 `json:"findings,omitempty"`
}

// WitnessBackup is what the witness found for one attested backup.
type WitnessBackup struct {
	BackupID       string    `json:"backupId"`
	Key            string    `json:"key"`
	KeyAbsent      bool      `json:"keyAbsent"`
	MountPresent   bool      `json:"mountPresent"`
	CiphertextGone bool      `json:"ciphertextGone"`
	CheckedAt      time.Time `json:"checkedAt"`
}

// NewWitnessStatement returns the statement for w over the attestation
// envelope env and its statement st.
func NewWitnessStatement(w Witness, env []byte, st *Statement) *WitnessStatement {
	subjects := []Subject{{Name: "attestation/" + st.Predicate.AttestationID, Digest: map[string]string{"sha256": SHA256Hex(env)}}}
	subjects = append(subjects, st.Subject...)
	w.Attestation.ID, w.Attestation.EnvelopeSHA256 = st.Predicate.AttestationID, SHA256Hex(env)
	return &WitnessStatement{Type: StatementType, Subject: subjects, PredicateType: WitnessPredicateType, Predicate: w}
}

// SHA256Hex returns the hex SHA-256 of b.
func SHA256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// SignWitness signs ws as a DSSE envelope, like Sign, and like Sign
// refuses a statement whose envelope VerifyWitness would refuse.
func SignWitness(ctx context.Context, ws *WitnessStatement, s signature.Signer) ([]byte, error) {
	if ws.Predicate.WitnessID == "" || len(ws.Predicate.Backups) == 0 {
		return nil, errors.New("a witness needs an id and at least one backup")
	}
	payload, err := json.Marshal(ws)
	if err != nil {
		return nil, fmt.Errorf("failed to encode the witness statement: %w", err)
	}
	if len(payload) > MaxStatementSize {
		return nil, fmt.Errorf("the witness statement is %d bytes, more than an envelope may hold (%d)", len(payload), MaxStatementSize)
	}
	sig, err := signPAE(ctx, s, payload)
	if err != nil {
		return nil, err
	}
	return marshalEnvelope(payload, sig)
}

// ErrWitnessMismatch marks a witness that does not refer to the
// attestation it is presented with.
var ErrWitnessMismatch = errors.New("the witness does not refer to this attestation")

// ErrWitnessTooLarge marks a witness envelope larger than MaxEnvelopeSize,
// which VerifyWitness refuses unread.
var ErrWitnessTooLarge = fmt.Errorf("the witness envelope is larger than %d bytes", MaxEnvelopeSize)

// VerifyWitness verifies the witness envelope wenv with v and checks that
// it refers to the attestation envelope attEnv: same SHA-256, same
// attestation id, each of its backups checked once and no other, and
// every backup the witness checked found gone. A witness envelope larger
// than MaxEnvelopeSize is refused before it is parsed, with a
// *VerificationError wrapping ErrWitnessTooLarge.
func VerifyWitness(ctx context.Context, wenv, attEnv []byte, v signature.Verifier) (*WitnessStatement, error) {
	if len(wenv) > MaxEnvelopeSize {
		return nil, &VerificationError{Check: CheckEnvelope, Err: ErrWitnessTooLarge}
	}
	var env envelope
	if err := decodeStrict(wenv, &env); err != nil {
		return nil, &VerificationError{Check: CheckEnvelope, Err: fmt.Errorf("failed to parse the witness envelope: %w", err)}
	}
	payload, err := decodeBase64(env.Payload)
	if err != nil || env.PayloadType != PayloadType || len(env.Signatures) == 0 || len(env.Signatures) > maxSignatures {
		return nil, &VerificationError{Check: CheckEnvelope, Err: errors.New("malformed witness envelope")}
	}
	if err := verifyAny(ctx, env, payload, v); err != nil {
		return nil, err
	}
	var ws WitnessStatement
	if err := decodeStrict(payload, &ws); err != nil || ws.PredicateType != WitnessPredicateType || ws.Type != StatementType {
		return nil, &VerificationError{Check: CheckStatement, Err: fmt.Errorf("not a deletion witness statement: %v", err)}
	}
	return &ws, checkRefers(&ws, attEnv)
}

func verifyAny(ctx context.Context, env envelope, payload []byte, v signature.Verifier) error {
	pae := dsse.PAE(env.PayloadType, payload)
	for _, s := range env.Signatures {
		sig, err := decodeBase64(s.Sig)
		if err == nil && v.VerifySignature(bytes.NewReader(sig), bytes.NewReader(pae), options.WithContext(ctx)) == nil {
			return nil
		}
	}
	return &VerificationError{Check: CheckSignature, Err: errors.New("no witness signature verifies with the witness key")}
}

func checkRefers(ws *WitnessStatement, attEnv []byte) error {
	want := SHA256Hex(attEnv)
	if ws.Predicate.Attestation.EnvelopeSHA256 != want || len(ws.Subject) == 0 || ws.Subject[0].Digest["sha256"] != want {
		return &VerificationError{Check: CheckWitness, Err: ErrWitnessMismatch}
	}
	if err := checkCovers(ws, attEnv); err != nil {
		return &VerificationError{Check: CheckWitness, Err: err}
	}
	for _, b := range ws.Predicate.Backups {
		if !b.KeyAbsent || !b.MountPresent || !b.CiphertextGone {
			return &VerificationError{Check: CheckWitness, Err: fmt.Errorf("the witness found backup %s not destroyed", b.BackupID)}
		}
	}
	if !ws.Predicate.Ledger.AttestedHeadInChain {
		return &VerificationError{Check: CheckWitness, Err: errors.New("the witness found the attested ledger head missing")}
	}
	return nil
}

// checkCovers checks that the witness names the attestation's id and
// checked each of its backups once, and no other: a witness of some of
// them must not read as a witness of all.
func checkCovers(ws *WitnessStatement, attEnv []byte) error {
	st, err := ParseUnverified(attEnv)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrWitnessMismatch, err)
	}
	if ws.Predicate.Attestation.ID != st.Predicate.AttestationID {
		return fmt.Errorf("%w: it names attestation %q", ErrWitnessMismatch, ws.Predicate.Attestation.ID)
	}
	unchecked := make(map[string]bool, len(st.Predicate.Backups))
	for _, b := range st.Predicate.Backups {
		unchecked[b.BackupID] = true
	}
	for _, b := range ws.Predicate.Backups {
		if !unchecked[b.BackupID] {
			return fmt.Errorf("%w: it checked backup %s twice or one the attestation does not cover", ErrWitnessMismatch, b.BackupID)
		}
		delete(unchecked, b.BackupID)
	}
	if len(unchecked) > 0 {
		return fmt.Errorf("%w: it did not check %d of the attestation's backups", ErrWitnessMismatch, len(unchecked))
	}
	return nil
}
