package attest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"
)

// blobContent is the "ciphertext" whose digest is the first subject.
const blobContent = "age-encryption.org/v1\n-> cryptoshred test stanza\n"

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func tp(s string) *time.Time {
	t := ts(s)
	return &t
}

func hexSum(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// testDeletion is a complete, valid predicate mirroring
// /work/shared/deletion-statement.example.json, with a second backup whose
// original is unknown.
func testDeletion() Deletion {
	return Deletion{
		AttestationID: "att-01HF40A2B4C6D8E0F2G4H6J8K0",
		IssuedAt:      ts("2026-11-26T14:03:12Z"),
		Controllers:   []string{"Example Ministry", "Example Immigration Service"},
		Case: Case{
			ID:        "DPA-2021-0211",
			Authority: "Example Data Protection Authority",
			Reference: "J.nr. 2021-431-0001",
			OpenedAt:  ts("2021-02-12T09:00:00Z"),
			ClosedAt:  ts("2026-11-20T12:00:00Z"),
			Decision: Decision{
				Reference:  "J.nr. 2021-431-0001/closing letter",
				Document:   Document{Name: "closing-letter.pdf", SHA256: hexSum("closing letter")},
				RecordedBy: "compliance-officer (entity 5c1e)",
				RecordedAt: ts("2026-11-20T12:05:00Z"),
			},
		},
		Method: Method{
			Standard: MethodStandard, Category: MethodCategory, Technique: MethodTechnique,
			Cipher:          "age v1: file key wrapped by Vault Transit aes256-gcm96; payload ChaCha20-Poly1305",
			KeyStrengthBits: 256,
		},
		KeyStore: KeyStore{
			Kind: "vault", Address: "https://vault.example.internal:8200",
			TransitMount: "cryptoshred-transit", Version: "1.19.0", SnapshotRetention: "720h",
		},
		Operator: Operator{
			Name:          "Jane Admin",
			VaultIdentity: VaultIdentity{DisplayName: "userpass-jane", EntityID: "9f1b6c2e-entity", Policies: []string{"cryptoshred-admin"}},
		},
		Backups:       []Backup{testBackup1(), testBackup2()},
		ResidualRisks: []string{"Vault snapshots taken before destroyedAt contain the key until residualCopiesUntil"},
		Tool:          Tool{Name: "cryptoshred", Version: "0.1.0"},
		Ledger:        Ledger{Head: "sha256:" + hexSum("ledger head"), Entries: 1523},
	}
}

func testBackup1() Backup {
	return Backup{
		BackupID:                   "bk-01HF3Z8Q4M2N6P8R0T2V4X6Z8B",
		Subject:                    "casework-2019-11-30.tar.age",
		Categories:                 []string{"health", "biometric", "criminal"},
		ProtectedAt:                ts("2026-03-01T08:00:00Z"),
		EncryptedAfterFirstStorage: true,
		Original: &Original{
			Disposal: DisposalMediaSanitized, At: tp("2026-03-02T10:00:00Z"), By: "backup-admin (entity 77aa)",
			Evidence: &Document{Name: "sanitisation-certificate.pdf", SHA256: hexSum("sanitisation")},
		},
		KeyUnwraps:          KeyUnwraps{Count: 2, Last: tp("2026-06-01T10:00:00Z")},
		Holds:               []Hold{{Case: "DPA-2021-0211", PlacedAt: ts("2026-03-01T09:00:00Z"), ReleasedAt: ts("2026-11-20T12:05:00Z")}},
		Key:                 Key{Name: "bk-01HF3Z8Q4M2N6P8R0T2V4X6Z8B", VersionsDestroyed: []int{1}},
		DestroyedAt:         ts("2026-11-26T14:03:10Z"),
		DestroyedBy:         "backup-admin (entity 77aa)",
		Verification:        Verification{Method: "key read after delete", Result: "not found", MountPresent: true, At: ts("2026-11-26T14:03:11Z")},
		Ciphertext:          Ciphertext{Deleted: true, Locations: []string{"file:///backups/casework-2019-11-30.tar.age"}},
		ResidualCopiesUntil: ts("2026-12-26T14:03:10Z"),
	}
}

func testBackup2() Backup {
	b := testBackup1()
	b.BackupID = "bk-01HF3Z8Q4M2N6P8R0T2V4X6Z8C"
	b.Subject = "permits-2020-01-31.tar.age"
	b.Categories = []string{"national-id"}
	b.Original = &Original{Disposal: DisposalUnknown}
	b.KeyUnwraps = KeyUnwraps{}
	b.Key = Key{Name: "bk-01HF3Z8Q4M2N6P8R0T2V4X6Z8C", VersionsDestroyed: []int{1, 2}}
	b.Ciphertext = Ciphertext{}
	return b
}

// testStatement returns a valid statement whose first subject is the
// SHA-256 of blobContent.
func testStatement() *Statement {
	return NewStatement(testDeletion(), map[string]string{
		"casework-2019-11-30.tar.age": hexSum(blobContent),
		"permits-2020-01-31.tar.age":  hexSum("second ciphertext"),
	})
}

// newFileSigner writes a key pair for alg into t's temp dir and loads both
// halves the way the CLI does.
func newFileSigner(t *testing.T, alg Algorithm, password []byte) (signature.SignerVerifier, signature.Verifier, string) {
	t.Helper()
	dir := t.TempDir()
	priv, pub := filepath.Join(dir, "key.pem"), filepath.Join(dir, "key.pub")
	if err := WriteKeyPair(priv, pub, alg, password); err != nil {
		t.Fatal(err)
	}
	s, err := LoadSigner(context.Background(), priv, func() ([]byte, error) { return password, nil })
	if err != nil {
		t.Fatal(err)
	}
	pubPEM, err := os.ReadFile(pub)
	if err != nil {
		t.Fatal(err)
	}
	v, err := LoadVerifier(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	return s, v, pub
}

func signTest(t *testing.T, s signature.Signer) []byte {
	t.Helper()
	env, err := Sign(context.Background(), testStatement(), s)
	if err != nil {
		t.Fatal(err)
	}
	return env
}
