package shred_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

var compliance = shred.Actor{DisplayName: "test-compliance"}

func openCase(t *testing.T, v *shred.Service, id string) {
	t.Helper()
	_, err := v.OpenCase(context.Background(), compliance, catalog.Case{ID: id, Authority: "Example DPA", Reference: "J.nr. " + id,
		Controllers: []string{"Example Ministry", "Example Immigration Service"}})
	if err != nil {
		t.Fatalf("open case %s: %v", id, err)
	}
}

func hold(t *testing.T, v *shred.Service, caseID string, ids ...string) {
	t.Helper()
	if _, err := v.PlaceHolds(context.Background(), compliance, caseID, shred.HoldSelector{IDs: ids}); err != nil {
		t.Fatalf("hold: %v", err)
	}
}

// protectHeld protects data with adminV and holds it in caseID, a case
// it opens with complianceV.
func protectHeld(t *testing.T, adminV, complianceV *shred.Service, caseID string, data []byte) *catalog.Backup {
	t.Helper()
	b, _ := protect(t, adminV, data)
	openCase(t, complianceV, caseID)
	hold(t, complianceV, caseID, b.ID)
	return b
}

func closeCase(t *testing.T, v *shred.Service, caseID string) *shred.CloseResult {
	t.Helper()
	res, err := v.CloseCase(context.Background(), compliance, closeRequest(caseID))
	if err != nil {
		t.Fatalf("close %s: %v", caseID, err)
	}
	return res
}

func closeRequest(caseID string) shred.CloseRequest {
	return shred.CloseRequest{Case: caseID, Reference: caseID + "/closing letter",
		Document: catalog.DocumentRef{Name: "closing.pdf", SHA256: strings.Repeat("ab", 32)}}
}

func TestHeldKeyCannotBeDeletedByAdminUntilCaseCloses(t *testing.T) {
	srv, root := newVault(t)
	adminV := roleVault(t, srv, vault.PolicyAdmin)
	complianceV := roleVault(t, srv, vault.PolicyCompliance)
	b, _ := protect(t, adminV, []byte("held data"))
	openCase(t, complianceV, "DPA-1")
	hold(t, complianceV, "DPA-1", b.ID)

	adminRaw := srv.Client(t, srv.TokenWithPolicies(t, "a", vault.PolicyAdmin)).Logical()
	if _, err := adminRaw.Delete("cryptoshred-transit/keys/" + b.Key); err == nil || !strings.Contains(err.Error(), "deletion is not allowed for this key") {
		t.Fatalf("admin deleting a held key with plain Vault calls: %v", err)
	}
	if _, err := adminRaw.Write("cryptoshred-transit/keys/"+b.Key+"/config", map[string]any{"deletion_allowed": true}); err == nil {
		t.Fatal("admin unlatched a held key")
	}
	res := closeCase(t, complianceV, "DPA-1")
	if len(res.Released) != 1 || res.Released[0] != b.ID {
		t.Fatalf("released %v", res.Released)
	}
	if _, err := adminRaw.Delete("cryptoshred-transit/keys/" + b.Key); err != nil {
		t.Fatalf("admin delete after close: %v", err)
	}
	got, _, _ := root.GetBackup(context.Background(), b.ID)
	if got.State != catalog.StateReleased {
		t.Fatalf("state %s", got.State)
	}
}

func TestBackupHeldByTwoCasesStaysHeldUntilBothClose(t *testing.T) {
	_, v := newVault(t)
	b, _ := protect(t, v, []byte("x"))
	openCase(t, v, "A")
	openCase(t, v, "B")
	hold(t, v, "A", b.ID)
	hold(t, v, "B", b.ID)
	if res := closeCase(t, v, "A"); len(res.Released) != 0 || len(res.StillHeld) != 1 {
		t.Fatalf("after closing A: %+v", res)
	}
	key, err := v.KeyInfo(context.Background(), b.Key)
	if err != nil || key.DeletionAllowed {
		t.Fatalf("key after closing only A: %+v %v", key, err)
	}
	if res := closeCase(t, v, "B"); len(res.Released) != 1 {
		t.Fatalf("after closing B: %+v", res)
	}
	if key, _ := v.KeyInfo(context.Background(), b.Key); !key.DeletionAllowed {
		t.Fatal("key still latched after both cases closed")
	}
}

func TestClosingTwiceIsRefused(t *testing.T) {
	_, v := newVault(t)
	openCase(t, v, "C")
	closeCase(t, v, "C")
	_, err := v.CloseCase(context.Background(), compliance, closeRequest("C"))
	if !errors.Is(err, shred.ErrRefused) || !strings.Contains(err.Error(), "already closed") {
		t.Fatalf("second close: %v", err)
	}
}

func TestHoldOnClosedCaseAndBadIDsAreRefused(t *testing.T) {
	_, v := newVault(t)
	b, _ := protect(t, v, []byte("x"))
	openCase(t, v, "D")
	closeCase(t, v, "D")
	if _, err := v.PlaceHolds(context.Background(), compliance, "D", shred.HoldSelector{IDs: []string{b.ID}}); !errors.Is(err, shred.ErrRefused) {
		t.Fatalf("hold on closed case: %v", err)
	}
	for _, id := range []string{"../backups/x", "a/b", "x\ny", strings.Repeat("a", 10000), ""} {
		_, err := v.OpenCase(context.Background(), compliance, catalog.Case{ID: id, Authority: "a", Reference: "r"})
		if err == nil || !strings.Contains(err.Error(), "invalid case id") {
			t.Fatalf("case id %q: %v", id, err)
		}
	}
}

func TestHoldBySystemAndCreatedBefore(t *testing.T) {
	_, v := newVault(t)
	old := protectDated(t, v, time.Date(2019, 11, 30, 0, 0, 0, 0, time.UTC))
	protectDated(t, v, time.Date(2021, 5, 31, 0, 0, 0, 0, time.UTC))
	openCase(t, v, "E")
	held, err := v.PlaceHolds(context.Background(), compliance, "E",
		shred.HoldSelector{System: "casework", CreatedBefore: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil || len(held) != 1 || held[0] != old.ID {
		t.Fatalf("held %v, %v", held, err)
	}
}

// protectDated protects a file whose modification time is mtime.
func protectDated(t *testing.T, v *shred.Service, mtime time.Time) *catalog.Backup {
	t.Helper()
	dir := t.TempDir()
	src := writeFile(t, dir, "casework.tar", []byte(mtime.String()))
	if err := os.Chtimes(src, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	b, err := v.Protect(context.Background(), admin, shred.ProtectRequest{Source: src, OutDir: dir, System: "casework"})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReleasedBackupCannotBeHeldWhileLatchIsOpen(t *testing.T) {
	_, v := newVault(t)
	b, _ := protect(t, v, []byte("x"))
	openCase(t, v, "F")
	hold(t, v, "F", b.ID)
	closeCase(t, v, "F")
	openCase(t, v, "G")
	_, err := v.PlaceHolds(context.Background(), compliance, "G", shred.HoldSelector{IDs: []string{b.ID}})
	if !errors.Is(err, shred.ErrRefused) {
		t.Fatalf("hold on released backup: %v", err)
	}
	// By system, the released one is named as skipped, not left out silently.
	other, _ := protect(t, v, []byte("y"))
	held, err := v.PlaceHolds(context.Background(), compliance, "G", shred.HoldSelector{System: "casework"})
	if !slices.Equal(held, []string{other.ID}) || err == nil || !strings.Contains(err.Error(), b.ID+": backup "+b.ID+" was already released") {
		t.Fatalf("hold of the system: %v, %v", held, err)
	}
}
