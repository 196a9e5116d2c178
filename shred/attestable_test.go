package shred

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

	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/errs"
)

// A case larger than one attestation holds is refused before anything is
// destroyed, not destroyed and then left without an attestation.
func TestCheckAttestableRefusesMoreThanOneAttestationHolds(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, err := signature.LoadECDSASignerVerifier(key, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	opts := AttestOptions{Signer: signer, SnapshotRetention: time.Hour}
	plan := &Plan{Case: &catalog.Case{ID: "BIG", Controllers: []string{"Example Ministry"}}}
	for range MaxAttestedBackups {
		plan.Items = append(plan.Items, &PlanItem{Backup: &catalog.Backup{}, Action: ActionDestroy})
	}
	s := &Service{}
	if err := s.checkAttestable(context.Background(), plan, opts); err != nil {
		t.Fatalf("a case of exactly %d backups: %v", MaxAttestedBackups, err)
	}
	plan.Items = append(plan.Items, &PlanItem{Backup: &catalog.Backup{}, Action: ActionDone})
	err = s.checkAttestable(context.Background(), plan, opts)
	if !errors.Is(err, errs.ErrRefused) || !strings.Contains(err.Error(), "10001 backups") {
		t.Fatalf("a case of %d backups: %v", MaxAttestedBackups+1, err)
	}
}
