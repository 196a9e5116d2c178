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

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/errs"
)

// A case larger than one statement holds is attested in parts, so it is
// no longer refused; a part size no envelope holds, or more parts than an
// attestation may have, is refused before anything is destroyed.
func TestCheckAttestableAllowsPartsAndRefusesWhatCannotBeIssued(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, err := signature.LoadECDSASignerVerifier(key, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	opts := AttestOptions{Signer: signer, SnapshotRetention: time.Hour}
	closed := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	plan := &Plan{Case: &catalog.Case{ID: "BIG", Authority: "DPA", Reference: "r", Controllers: []string{"Example Ministry"},
		OpenedAt: closed.Add(-time.Hour), ClosedAt: closed, Decision: &catalog.Decision{Reference: "d", RecordedBy: "officer", RecordedAt: closed,
			Document: catalog.DocumentRef{Name: "decision.pdf", SHA256: strings.Repeat("ab", 32)}}}}
	for range 100000 {
		plan.Items = append(plan.Items, &PlanItem{Backup: &catalog.Backup{}, Action: ActionDestroy})
	}
	s := &Service{}
	if err := s.checkAttestable(context.Background(), plan, opts); err != nil {
		t.Fatalf("a case of 100,000 backups in parts: %v", err)
	}
	opts.PartSize = attest.MaxPartSize + 1
	if err := s.checkAttestable(context.Background(), plan, opts); err == nil || !strings.Contains(err.Error(), "part size must be 1 to 10000") {
		t.Fatalf("a part larger than an envelope holds: %v", err)
	}
	opts.PartSize = 10
	err = s.checkAttestable(context.Background(), plan, opts)
	if !errors.Is(err, errs.ErrRefused) || !strings.Contains(err.Error(), "100000 backups in 10000 parts") {
		t.Fatalf("more parts than an attestation has: %v", err)
	}
}
