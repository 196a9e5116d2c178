package shred_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/cryptoshred/cryptoshred/internal/vaulttest"
	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// tokenTTL is how long the tokens that run out mid-run live: long enough
// to plan and check a run of a few backups, short enough to wait for.
const tokenTTL = 4 * time.Second

// closedCaseOf protects n backups, holds them under a new case caseID and
// closes it, and returns their ids.
func closedCaseOf(t *testing.T, srv *vaulttest.Server, caseID string, n int) []string {
	ctx, dir := context.Background(), t.TempDir()
	adminV, officer := roleVault(t, srv, vault.PolicyAdmin), roleVault(t, srv, vault.PolicyCompliance)
	var ids []string
	for i := range n {
		src := filepath.Join(dir, fmt.Sprintf("b%03d", i))
		if err := os.WriteFile(src, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		b, err := adminV.Protect(ctx, admin, shred.ProtectRequest{Source: src, OutDir: dir, System: "sys"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, b.ID)
	}
	if _, err := officer.OpenCase(ctx, compliance, catalog.Case{ID: caseID, Authority: "DPA", Reference: "r", Controllers: []string{"M"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := officer.PlaceHolds(ctx, compliance, caseID, shred.HoldSelector{IDs: ids}); err != nil {
		t.Fatal(err)
	}
	if _, err := officer.CloseCase(ctx, compliance, closeRequest(caseID)); err != nil {
		t.Fatal(err)
	}
	return ids
}

// signerAfter is a signer that, from its second signature on (the first
// is the check before any key is destroyed), first calls wait.
type signerAfter struct {
	signature.Signer
	calls atomic.Int32
	wait  func()
}

func (s *signerAfter) SignMessage(msg io.Reader, opts ...signature.SignOption) ([]byte, error) {
	if s.calls.Add(1) == 2 {
		s.wait()
	}
	return s.Signer.SignMessage(msg, opts...)
}

// A run whose admin token expires after it destroyed keys is partial
// (exit 3), never refused (exit 4, "nothing destroyed"): here the token
// runs out once the run destroyed and recorded its batch but before its
// ledger entry, and once before the attestation is stored. Before, the
// first reported 0 destroyed and every backup failed as refused, the keys
// all gone. The counts say how many keys the run destroyed and how many
// of them are not yet recorded, and a re-run with a fresh token records
// and attests every backup.
func TestTokenExpiringMidRunIsPartial(t *testing.T) {
	for _, at := range []string{"ledger entry", "attestation"} {
		t.Run(at, func(t *testing.T) {
			srv, _ := newVault(t)
			ctx := context.Background()
			ids := closedCaseOf(t, srv, "TTL", 3)
			expires := time.Now().Add(tokenTTL)
			short := newService(vault.New(srv.Client(t, srv.ShortToken(t, vault.PolicyAdmin, tokenTTL, false)), vault.DefaultMounts))
			waitExpiry := func() { time.Sleep(time.Until(expires) + time.Second) }
			opts := runOpts(t)
			var waited atomic.Bool
			if at == "ledger entry" {
				opts.Progress = func(done, total int) {
					if done > 0 && !waited.Swap(true) {
						waitExpiry()
					}
				}
			} else {
				opts.Attest.Signer = &signerAfter{Signer: opts.Attest.Signer, wait: waitExpiry}
			}
			res, err := short.RunShred(ctx, admin, "TTL", opts)
			if !errors.Is(err, shred.ErrPartial) || res == nil || res.KeysDestroyed != len(ids) {
				t.Fatalf("run: %v, %+v", err, res)
			}
			if at == "ledger entry" && (len(res.Destroyed) != 0 || res.KeysNotRecorded != len(ids) || len(res.Failed) != len(ids)) {
				t.Fatalf("destroyed %d, not recorded %d, failed %d", len(res.Destroyed), res.KeysNotRecorded, len(res.Failed))
			}
			if at == "attestation" && (len(res.Destroyed) != len(ids) || res.KeysNotRecorded != 0 || !strings.Contains(err.Error(), "attestation failed")) {
				t.Fatalf("destroyed %d, not recorded %d: %v", len(res.Destroyed), res.KeysNotRecorded, err)
			}
			again, err := roleVault(t, srv, vault.PolicyAdmin).RunShred(ctx, admin, "TTL", runOpts(t))
			if err != nil || again.Attestation == nil || again.Attestation.Backups != len(ids) {
				t.Fatalf("re-run: %v, %+v", err, again)
			}
		})
	}
}
