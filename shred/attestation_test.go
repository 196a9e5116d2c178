package shred_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/shred"
)

func TestAttestationOfAShredRunVerifies(t *testing.T) {
	_, v := newVault(t)
	ctx := context.Background()
	backups := closedCase(t, v, "ATT", 3)
	if _, err := v.RunShred(ctx, admin, "ATT", runOpts(t)); err != nil {
		t.Fatal(err)
	}
	signer := testSigner(t)
	if _, err := v.Attest(ctx, admin, "ATT", shred.AttestOptions{Signer: signer, ToolVersion: "test"}); err == nil || !strings.Contains(err.Error(), "snapshot retention must be declared") {
		t.Fatalf("attest without retention: %v", err)
	}
	a, err := v.Attest(ctx, admin, "ATT", shred.AttestOptions{Signer: signer, SnapshotRetention: 720 * time.Hour, ToolVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := attest.Verify(ctx, a.Envelope, signer, attest.VerifyOptions{SubjectDigest: backups[1].Ciphertext.SHA256})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	p := rep.Statement.Predicate
	if len(p.Backups) != 3 || p.Case.ID != "ATT" || len(rep.Warnings) != 3 {
		t.Fatalf("predicate: %d backups, case %s, %d warnings", len(p.Backups), p.Case.ID, len(rep.Warnings))
	}
	b := p.Backups[0]
	if b.Original == nil || b.Original.Disposal != attest.DisposalUnknown || !b.EncryptedAfterFirstStorage {
		t.Fatalf("original: %+v", b.Original)
	}
	if !b.ResidualCopiesUntil.Equal(b.DestroyedAt.Add(720*time.Hour)) || len(b.Holds) != 1 {
		t.Fatalf("backup: %+v", b)
	}
	stored, err := v.GetAttestation(ctx, a.ID)
	if err != nil || string(stored) != string(a.Envelope) {
		t.Fatalf("stored attestation differs: %v", err)
	}
	if _, err := v.VerifyLedger(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestAttestRefusesCaseWithNothingShredded(t *testing.T) {
	_, v := newVault(t)
	closedCase(t, v, "NONE", 1)
	signer := testSigner(t)
	_, err := v.Attest(context.Background(), admin, "NONE", shred.AttestOptions{Signer: signer, SnapshotRetention: time.Hour})
	if !errors.Is(err, shred.ErrRefused) {
		t.Fatalf("attest with nothing shredded: %v", err)
	}
}

func testSigner(t testing.TB) signature.SignerVerifier {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := signature.LoadECDSASignerVerifier(key, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return signer
}
