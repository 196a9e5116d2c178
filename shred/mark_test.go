package shred_test

import (
	"context"
	"errors"
	"os"
	"strings"
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
// wrote its destruction record first would: through plain Vault calls
// with the backup-admin role's token, after this run's plan. The file
// stays.
func markedByAnother(t *testing.T, raw insider, caseID string, b *catalog.Backup, note string) {
	t.Helper()
	if _, err := raw.l.Delete("cryptoshred-transit/keys/" + b.Key); err != nil {
		t.Fatal(err)
	}
	d := destructionRecord("other run", "key read after delete: not found; transit mount present")
	d["ciphertextDeleted"], d["ciphertextAbsent"], d["ciphertextNote"] = false, note == "", note
	recordByAnother(raw, caseID, b.ID, d)
}

// recordByAnother writes, as another run would, a destruction record of
// caseID with backup id's destruction d.
func recordByAnother(raw insider, caseID, id string, d map[string]any) {
	raw.t.Helper()
	name := catalog.Now().Format("20060102T150405.000000Z") + "-otherrun00"
	raw.mustWrite("destructions/"+caseID+"/"+name, map[string]any{"case": caseID, "by": "other run", "at": d["destroyedAt"], "backups": map[string]any{id: d}})
}

// When another run's record says the ciphertext was absent, and this run
// is the one that deleted it, the record and the attestation say deleted.
func TestRunKeepsItsCiphertextDeletionOverAnotherRunsRecord(t *testing.T) {
	srv, v := newVault(t)
	ctx := context.Background()
	backups := closedCase(t, v, "ABSENT", 1)
	plan := planDestroying(t, v, "ABSENT", 1)
	markedByAnother(t, asRole(t, srv, vault.PolicyAdmin), "ABSENT", backups[0], "")
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
	plan := planDestroying(t, v, "LEFT", 1)
	swapCiphertext(t, backups[0])
	markedByAnother(t, asRole(t, srv, vault.PolicyAdmin), "LEFT", backups[0], "not deleted: not this backup's ciphertext")
	listDestroyed(t, srv, "LEFT", backups[0].ID)
	res, err := v.Run(ctx, admin, plan, runOpts(t))
	var batch *shred.BatchError
	if !errors.Is(err, shred.ErrPartial) || !errors.As(err, &batch) || len(batch.Failed) != 1 || len(res.Destroyed) != 0 || res.ListedElsewhere != 1 ||
		!strings.Contains(batch.Failed[0].Error(), "the ciphertext was not deleted") {
		t.Fatalf("run: %+v %v; want partial, one ciphertext left behind", res, err)
	}
	if got := attestedStatement(t, res.Attestation).Predicate.Backups; len(got) != 1 || got[0].BackupID != backups[0].ID {
		t.Fatalf("attestation covers %+v, want the backup listed by the other run", got)
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

// Two runs retrying one ciphertext an earlier run left: the one that
// finds it already gone does not overwrite the other's record of its
// deletion with "absent before shred".
func TestRetryKeepsAnotherRetrysDeletion(t *testing.T) {
	srv, v := newVault(t)
	ctx := context.Background()
	backups := closedCase(t, v, "RETRY", 1)
	swapCiphertext(t, backups[0])
	if _, err := v.RunShred(ctx, admin, "RETRY", runOpts(t)); !errors.Is(err, shred.ErrPartial) && !errors.Is(err, shred.ErrRefused) {
		t.Fatalf("set-up run: %v", err)
	}
	plan, err := v.PlanShred(ctx, "RETRY", time.Now())
	if err != nil || plan.Count(shred.ActionDone) != 1 {
		t.Fatalf("plan: %v", err)
	}
	if err := os.Remove(backups[0].Ciphertext.Path); err != nil {
		t.Fatal(err)
	}
	otherRetry := asRole(t, srv, vault.PolicyAdmin) // records its deletion of the ciphertext the first run left
	d := recordedDestruction(t, otherRetry, "RETRY", backups[0].ID)
	d["ciphertextDeleted"], d["ciphertextNote"] = true, ""
	recordByAnother(otherRetry, "RETRY", backups[0].ID, d)
	if _, err := v.Run(ctx, admin, plan, runOpts(t)); err != nil {
		t.Fatalf("run: %v", err)
	}
	got, _, _ := v.GetBackup(ctx, backups[0].ID)
	if d := got.Destruction; !d.CiphertextDeleted || d.CiphertextAbsent {
		t.Fatalf("record after both retries: %+v; want the other retry's deletion kept", d)
	}
}
