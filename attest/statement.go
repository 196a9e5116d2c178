package attest

import (
	"fmt"
	"strings"
	"time"
)

// Type URIs and the media type of an attestation.
const (
	// StatementType is the in-toto Statement v1 _type.
	StatementType = "https://in-toto.io/Statement/v1"
	// PredicateType identifies the cryptoshred deletion predicate.
	PredicateType = "https://cryptoshred.dev/deletion/v1"
	// PayloadType is the DSSE payloadType of an in-toto statement.
	PayloadType = "application/vnd.in-toto+json"
)

// Values of Method for NIST SP 800-88 Rev. 2 Cryptographic Erase.
const (
	MethodStandard  = "NIST SP 800-88 Rev. 2"
	MethodCategory  = "Purge"
	MethodTechnique = "Cryptographic Erase"
)

// VerificationResult is the only Verification.Result that shows a key
// destroyed: Vault's answer when the key is read back after its deletion.
const VerificationResult = "not found"

// Values of Original.Disposal.
const (
	// DisposalDeleted means the plaintext original was deleted.
	DisposalDeleted = "deleted"
	// DisposalMediaSanitized means the media holding the original were sanitized.
	DisposalMediaSanitized = "media-sanitized"
	// DisposalNotOurs means the original is held by someone else, who answers for it.
	DisposalNotOurs = "not-ours"
	// DisposalUnknown means nobody recorded what became of the original.
	DisposalUnknown = "unknown"
)

// Statement is an in-toto Statement v1 carrying a Deletion predicate. Build
// one with NewStatement, or fill every field and call Validate.
type Statement struct {
	Type          string    `json:"_type"`
	Subject       []Subject `json:"subject"`
	PredicateType string    `json:"predicateType"`
	Predicate     Deletion  `json:"predicate"`
}

// Subject names one backup ciphertext and its SHA-256 digest.
type Subject struct {
	Name        string            `json:"name"`
	Digest      map[string]string `json:"digest"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Deletion is the predicate: the record of one crypto-shredding run.
// All times must be in UTC.
type Deletion struct {
	AttestationID string `json:"attestationId"`
	// Part is set when the attestation is split into parts (a case of
	// more backups than one part holds); nil for a whole case.
	Part          *Part     `json:"part,omitempty"`
	IssuedAt      time.Time `json:"issuedAt"`
	Controllers   []string  `json:"controllers"`
	Case          Case      `json:"case"`
	Method        Method    `json:"method"`
	KeyStore      KeyStore  `json:"keyStore"`
	Operator      Operator  `json:"operator"`
	Backups       []Backup  `json:"backups"`
	ResidualRisks []string  `json:"residualRisks"`
	Tool          Tool      `json:"tool"`
	Ledger        Ledger    `json:"ledger"`
}

// Part places a statement among the parts of one attestation: Index of Of
// (1-based), covering the backup ids First to Last (in byte order).
type Part struct {
	Index int    `json:"index"`
	Of    int    `json:"of"`
	First string `json:"first"`
	Last  string `json:"last"`
}

// Case is the data protection authority's case that held the backups.
type Case struct {
	ID        string    `json:"id"`
	Authority string    `json:"authority"`
	Reference string    `json:"reference"`
	OpenedAt  time.Time `json:"openedAt"`
	ClosedAt  time.Time `json:"closedAt"`
	Decision  Decision  `json:"decision"`
}

// Decision is the authority's closing decision that released the holds.
type Decision struct {
	Reference  string    `json:"reference"`
	Document   Document  `json:"document"`
	RecordedBy string    `json:"recordedBy"`
	RecordedAt time.Time `json:"recordedAt"`
}

// Document names a file and its SHA-256 digest (64 lowercase hex digits).
type Document struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
}

// Method is the sanitization method: Validate requires MethodStandard, MethodCategory
// and MethodTechnique.
type Method struct {
	Standard        string `json:"standard"`
	Category        string `json:"category"`
	Technique       string `json:"technique"`
	Cipher          string `json:"cipher"`
	KeyStrengthBits int    `json:"keyStrengthBits"`
}

// KeyStore describes the Vault (or OpenBao) server that held the keys.
// SnapshotRetention is a Go duration such as "720h".
type KeyStore struct {
	Kind              string `json:"kind"`
	Address           string `json:"address"`
	TransitMount      string `json:"transitMount"`
	Version           string `json:"version"`
	SnapshotRetention string `json:"snapshotRetention"`
}

// Operator is who ran the deletion: a name given to the tool and the Vault
// identity of the token used.
type Operator struct {
	Name          string        `json:"name,omitempty"`
	VaultIdentity VaultIdentity `json:"vaultIdentity"`
}

// VaultIdentity is a Vault token's identity as Vault reported it.
type VaultIdentity struct {
	DisplayName string   `json:"displayName"`
	EntityID    string   `json:"entityId,omitempty"`
	Policies    []string `json:"policies,omitempty"`
}

// String names the identity for the ledger and certificates.
func (i VaultIdentity) String() string {
	if i.EntityID != "" {
		return i.DisplayName + " (entity " + i.EntityID + ")"
	}
	return i.DisplayName
}

// Backup records the destruction of one backup's key. Subject must equal the
// Name of exactly one Statement subject.
type Backup struct {
	BackupID                   string     `json:"backupId"`
	Subject                    string     `json:"subject"`
	Categories                 []string   `json:"categories,omitempty"`
	ProtectedAt                time.Time  `json:"protectedAt"`
	EncryptedAfterFirstStorage bool       `json:"encryptedAfterFirstStorage"`
	Original                   *Original  `json:"original,omitempty"`
	KeyUnwraps                 KeyUnwraps `json:"keyUnwraps"`
	// RestoredCopies are the plaintext copies authorised opens wrote, as
	// the ledger records them; absent when the backup was never opened
	// with its output recorded.
	RestoredCopies []RestoredCopy `json:"restoredCopies,omitempty"`
	// SameDataStillIn names the backups, not destroyed when this was
	// signed, that hold the same plaintext (same SHA-256): the data
	// stays readable there.
	SameDataStillIn     []string     `json:"sameDataStillIn,omitempty"`
	Holds               []Hold       `json:"holds"`
	Key                 Key          `json:"key"`
	DestroyedAt         time.Time    `json:"destroyedAt"`
	DestroyedBy         string       `json:"destroyedBy"`
	Verification        Verification `json:"verification"`
	Ciphertext          Ciphertext   `json:"ciphertext"`
	ResidualCopiesUntil time.Time    `json:"residualCopiesUntil"`
}

// Original records what became of a plaintext original of a backup that was
// encrypted after it was first stored. It must be set exactly when
// EncryptedAfterFirstStorage is true; Disposal DisposalUnknown says nobody
// accounted for it. At and By are required unless Disposal is DisposalUnknown.
type Original struct {
	Disposal string     `json:"disposal"`
	At       *time.Time `json:"at,omitempty"`
	By       string     `json:"by,omitempty"`
	Note     string     `json:"note,omitempty"`
	Evidence *Document  `json:"evidence,omitempty"`
}

// RestoredCopy is a plaintext copy an authorised open wrote: a file (its
// absolute path) or "stdout". Crypto-shredding does not erase it, so it is
// a warning until its disposal is recorded (DisposedAt, DisposedBy, Note).
type RestoredCopy struct {
	At         time.Time  `json:"at"`
	By         string     `json:"by"`
	Purpose    string     `json:"purpose"`
	Output     string     `json:"output"`
	DisposedAt *time.Time `json:"disposedAt,omitempty"`
	DisposedBy string     `json:"disposedBy,omitempty"`
	Note       string     `json:"note,omitempty"`
}

// UndisposedCopies returns the outputs of b's restored copies whose
// disposal nobody recorded.
func (b *Backup) UndisposedCopies() []string {
	var out []string
	for _, r := range b.RestoredCopies {
		if r.DisposedAt == nil {
			out = append(out, r.Output)
		}
	}
	return out
}

// KeyUnwraps counts authorised opens of the backup. Last is nil when Count is 0.
type KeyUnwraps struct {
	Count int        `json:"count"`
	Last  *time.Time `json:"last,omitempty"`
	// Audit is what Vault's audit log showed, when shred run read it:
	// every unwrap of the key, whether or not through cryptoshred.
	Audit *AuditUnwraps `json:"audit,omitempty"`
}

// AuditUnwraps counts the unwraps of one key in Vault's audit log, over
// the span the log covered, and how many no recorded purpose accounts for.
type AuditUnwraps struct {
	Count      int       `json:"count"`
	Unrecorded int       `json:"unrecorded"`
	LogFrom    time.Time `json:"logFrom,omitzero"`
	LogTo      time.Time `json:"logTo,omitzero"`
}

// Hold is a legal hold that was placed on the backup and later released.
type Hold struct {
	Case       string    `json:"case"`
	PlacedAt   time.Time `json:"placedAt"`
	ReleasedAt time.Time `json:"releasedAt"`
}

// Key is the destroyed Vault Transit key and its configuration.
type Key struct {
	Name                 string `json:"name"`
	VersionsDestroyed    []int  `json:"versionsDestroyed"`
	Exportable           bool   `json:"exportable"`
	AllowPlaintextBackup bool   `json:"allowPlaintextBackup"`
}

// Verification is how the tool confirmed the key is gone, and Vault's answer.
type Verification struct {
	Method       string    `json:"method"`
	Result       string    `json:"result"`
	MountPresent bool      `json:"mountPresent"`
	At           time.Time `json:"at"`
}

// Ciphertext says whether the ciphertext was deleted, and where it was.
type Ciphertext struct {
	Deleted bool `json:"deleted"`
	// AbsentBeforeShred is true when the ciphertext was already gone when
	// cryptoshred came to delete it: nothing was deleted, and nobody
	// should read "deleted" as a claim about that file.
	AbsentBeforeShred bool     `json:"absentBeforeShred,omitempty"`
	Locations         []string `json:"locations,omitempty"`
	// Storage is where the ciphertext was kept: "file" or "s3".
	Storage string `json:"storage,omitempty"`
	// Removed names exactly what was deleted: the file, or each S3 object
	// version, after which a listing confirmed that none was left.
	Removed []string `json:"removed,omitempty"`
	// StorageHold is when the storage itself (an S3 Object Lock legal
	// hold) held the ciphertext; absent where no storage hold applied.
	StorageHold *Span `json:"storageHold,omitempty"`
}

// Span is a period of time.
type Span struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to,omitzero"`
}

// Tool names the software that issued the attestation.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Ledger is the hash-chained ledger's head ("sha256:" + 64 hex) and length.
type Ledger struct {
	Head    string `json:"head"`
	Entries int64  `json:"entries"`
	// Slots is the digest of the ledger's slots up to the head (SHA-256
	// over each slot's chain hash and a newline, from slot 1), stated
	// when a slot up to the head is not an entry whose link could be
	// checked: junk links to nothing, so the head's hash commits to no
	// slot before it, and this digest to all of them.
	Slots string `json:"slots,omitempty"`
}

// NewStatement returns a statement for d whose subjects are the given
// backups' ciphertexts. digests maps each Backup.Subject to the sha256 hex
// of its ciphertext. The caller must still call Validate (Sign does).
func NewStatement(d Deletion, digests map[string]string) *Statement {
	st := &Statement{Type: StatementType, PredicateType: PredicateType, Predicate: d}
	for _, b := range d.Backups {
		st.Subject = append(st.Subject, SubjectOf(b, digests[b.Subject]))
	}
	return st
}

// SubjectOf returns the subject that names b, whose ciphertext has the
// SHA-256 sha256, in a statement.
func SubjectOf(b Backup, sha256 string) Subject {
	return Subject{
		Name:        b.Subject,
		Digest:      map[string]string{"sha256": sha256},
		Annotations: map[string]string{"backupId": b.BackupID},
	}
}

// CheckRetention reports whether the key store's snapshot retention is a
// duration ResidualCopiesUntil can add.
func (k KeyStore) CheckRetention() error {
	_, err := parseRetention(k.SnapshotRetention)
	return err
}

// ResidualCopiesUntil returns destroyedAt plus the key store's snapshot
// retention, the value Backup.ResidualCopiesUntil must carry.
func (k KeyStore) ResidualCopiesUntil(destroyedAt time.Time) (time.Time, error) {
	d, err := parseRetention(k.SnapshotRetention)
	if err != nil {
		return time.Time{}, err
	}
	return destroyedAt.Add(d).UTC(), nil
}

// Warnings lists what a reader of the attestation must be warned about: each
// backup whose plaintext original is not accounted for, and each whose
// restored copies are not recorded as disposed of.
func (d *Deletion) Warnings() []string {
	var w []string
	for _, b := range d.Backups {
		if b.OriginalUnknown() {
			w = append(w, "backup "+b.BackupID+" ("+b.Subject+") was encrypted after it was first stored, and the disposal of its unencrypted original is not recorded: a plaintext copy may still exist")
		}
		if a := b.KeyUnwraps.Audit; a != nil && a.Unrecorded > 0 {
			w = append(w, fmt.Sprintf("backup %s (%s): Vault's audit log shows %d unwrap(s) of its key with no recorded purpose: the plaintext may have been copied outside cryptoshred", b.BackupID, b.Subject, a.Unrecorded))
		}
		if len(b.SameDataStillIn) > 0 {
			w = append(w, fmt.Sprintf("backup %s (%s) holds the same plaintext as %s, not destroyed: the data stays readable there",
				b.BackupID, b.Subject, strings.Join(b.SameDataStillIn, ", ")))
		}
		if c := b.UndisposedCopies(); len(c) > 0 {
			w = append(w, fmt.Sprintf("backup %s (%s) was restored to %s and the disposal of %s is not recorded: crypto-shredding does not erase a restored copy",
				b.BackupID, b.Subject, strings.Join(c, ", "), plural(len(c), "that copy", "those copies")))
		}
	}
	return w
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// OriginalUnknown reports whether b had a plaintext original whose disposal
// nobody recorded.
func (b *Backup) OriginalUnknown() bool {
	if !b.EncryptedAfterFirstStorage {
		return false
	}
	return b.Original == nil || b.Original.Disposal == DisposalUnknown || b.Original.Disposal == ""
}
