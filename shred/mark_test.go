package shred_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/cryptoshred/cryptoshred/internal/vaulttest"
	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/ledger"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// markedByAnother leaves b as another run that deleted its key, came to
// its ciphertext when it was gone (or could not delete it: note) and
// wrote its record first would: through plain Vault calls with the
// backup-admin role's token, after this run's plan. The file stays.
func markedByAnother(t *testing.T, raw insider, b *catalog.Backup, note string) {
	t.Helper()
	if _, err := raw.l.Delete("cryptoshred-transit/keys/" + b.Key); err != nil {
		t.Fatal(err)
	}
	now := catalog.Now().Format(time.RFC3339Nano)
	rec := raw.read("backups/" + b.ID)
	rec["state"] = string(catalog.StateShredded)
	rec["destruction"] = map[string]any{"versionsDestroyed": []int{1}, "destroyedAt": now, "destroyedBy": "other run",
		"verification": "key read after delete: not found; transit mount present", "verifiedAt": now, "mountPresent": true,
		"ciphertextAbsent": note == "", "ciphertextNote": note}
	raw.mustWrite("backups/"+b.ID, rec)
}

// When another run's record says the ciphertext was absent, and this run
// is the one that deleted it, the record and the attestation say deleted.
func TestRunKeepsItsCiphertextDeletionOverAnotherRunsRecord(t *testing.T) {
	srv, v := newVault(t)
	ctx := context.Background()
	backups := closedCase(t, v, "ABSENT", 1)
	plan, err := v.PlanShred(ctx, "ABSENT", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	markedByAnother(t, asRole(t, srv, vault.PolicyAdmin), backups[0], "")
	res, err := v.Run(ctx, admin, plan, runOpts(t))
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	assertShredded(t, v, backups[0])
	got, _, _ := v.GetBackup(ctx, backups[0].ID)
	if d := got.Destruction; !d.CiphertextDeleted || d.CiphertextAbsent || d.DestroyedBy != "other run" {
		t.Fatalf("record: %+v; want the other run's destruction with this run's deletion", d)
	}
	ct := attestedStatement(t, res.Attestation).Predicate.Backups[0].Ciphertext
	if !ct.Deleted || ct.AbsentBeforeShred {
		t.Fatalf("attested ciphertext: %+v", ct)
	}
}

// A run whose only destroyed backup another run listed first, and whose
// ciphertext neither could delete, ends partial (exit 3), not failed: it
// did destroy the key.
func TestRunThatOnlyDestroyedWhatAnotherListedIsPartial(t *testing.T) {
	srv, v := newVault(t)
	ctx := context.Background()
	backups := closedCase(t, v, "LEFT", 1)
	plan, err := v.PlanShred(ctx, "LEFT", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	swapCiphertext(t, backups[0])
	markedByAnother(t, asRole(t, srv, vault.PolicyAdmin), backups[0], "not deleted: not this backup's ciphertext")
	listDestroyed(t, srv, "LEFT", backups[0].ID)
	res, err := v.Run(ctx, admin, plan, runOpts(t))
	var batch *shred.BatchError
	if !errors.Is(err, shred.ErrPartial) || !errors.As(err, &batch) || len(batch.Failed) != 1 || len(res.Destroyed) != 0 || res.ListedElsewhere != 1 {
		t.Fatalf("run: %+v %v; want partial, one ciphertext left behind", res, err)
	}
}

// swapCiphertext replaces b's ciphertext with a file that is not an age
// file, which shred refuses to delete as not b's.
func swapCiphertext(t *testing.T, b *catalog.Backup) {
	t.Helper()
	if err := os.WriteFile(b.Ciphertext.Path, []byte("not an age file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// listDestroyed appends, with a backup-admin token, the ledger entry
// another run lists ids of caseID with.
func listDestroyed(t *testing.T, srv *vaulttest.Server, caseID string, ids ...string) {
	t.Helper()
	client := vault.New(srv.Client(t, srv.TokenWithPolicies(t, "backup-admin", vault.PolicyAdmin)), vault.DefaultMounts)
	ev := ledger.Event{Kind: ledger.KindKeyDestroyed, Case: caseID, Backups: ids}
	if _, err := ledger.New(client, client).Append(context.Background(), "other-run", ev); err != nil {
		t.Fatal(err)
	}
}
