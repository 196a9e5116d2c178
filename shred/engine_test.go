package shred_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cryptoshred/cryptoshred/internal/shredtest"
	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// closedCase protects n backups, holds them for caseID and closes it.
func closedCase(t *testing.T, v *shred.Service, caseID string, n int) []*catalog.Backup {
	t.Helper()
	backups := make([]*catalog.Backup, n)
	ids := make([]string, n)
	for i := range backups {
		backups[i], _ = protect(t, v, []byte(fmt.Sprintf("backup %s %d", caseID, i)))
		ids[i] = backups[i].ID
	}
	openCase(t, v, caseID)
	hold(t, v, caseID, ids...)
	closeCase(t, v, caseID)
	return backups
}

func TestPlanRefusesOpenCase(t *testing.T) {
	_, v := newVault(t)
	openCase(t, v, "OPEN")
	if _, err := v.PlanShred(context.Background(), "OPEN", time.Now()); !errors.Is(err, shred.ErrRefused) {
		t.Fatalf("plan on open case: %v", err)
	}
	if _, err := v.RunShred(context.Background(), admin, "OPEN", runOpts(t)); !errors.Is(err, shred.ErrRefused) {
		t.Fatalf("run on open case: %v", err)
	}
}

func TestShredRunDestroysVerifiesAndRecords(t *testing.T) {
	_, v := newVault(t)
	ctx := context.Background()
	backups := closedCase(t, v, "DPA-9", 5)
	plan, err := v.PlanShred(ctx, "DPA-9", time.Now())
	if err != nil || plan.Count(shred.ActionDestroy) != 5 {
		t.Fatalf("plan: %+v %v", plan, err)
	}
	if w := plan.Items[0].Warnings; len(w) != 1 || !strings.Contains(w[0], "disposal is not recorded") {
		t.Fatalf("plan warnings: %v", w)
	}
	res, err := v.RunShred(ctx, admin, "DPA-9", runOpts(t))
	if err != nil || len(res.Destroyed) != 5 {
		t.Fatalf("run: %+v %v", res, err)
	}
	for _, b := range backups {
		assertShredded(t, v, b)
		if _, err := open(t, v, b.ID); !errors.Is(err, shred.ErrKeyDestroyed) {
			t.Fatalf("open after shred: %v", err)
		}
	}
	if n := shredtest.DestroyedInLedger(t, v)[backups[0].ID]; n != 1 {
		t.Fatalf("backup recorded %d times in the ledger", n)
	}
	again, err := v.RunShred(ctx, admin, "DPA-9", runOpts(t))
	if err != nil || len(again.Destroyed) != 0 {
		t.Fatalf("second run: %+v %v", again, err)
	}
}

func assertShredded(t *testing.T, v *shred.Service, b *catalog.Backup) {
	t.Helper()
	ctx := context.Background()
	if key, err := v.KeyInfo(ctx, b.Key); err != nil || key != nil {
		t.Fatalf("key %s still in Vault: %+v %v", b.Key, key, err)
	}
	if _, err := os.Stat(b.Ciphertext.Path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ciphertext %s still there: %v", b.Ciphertext.Path, err)
	}
	got, _, err := v.GetBackup(ctx, b.ID)
	if err != nil || got.State != catalog.StateShredded || !got.Destruction.MountPresent {
		t.Fatalf("catalog after shred: %+v %v", got, err)
	}
	if shredtest.DestroyedInLedger(t, v)[b.ID] == 0 {
		t.Fatalf("%s shredded but not in the verified ledger", b.ID)
	}
}

func TestShredSkipsWhatIsNotReleased(t *testing.T) {
	srv, v := newVault(t)
	ctx := context.Background()
	shared, _ := protect(t, v, []byte("shared"))
	exportable, _ := protect(t, v, []byte("exportable"))
	openCase(t, v, "A")
	openCase(t, v, "B")
	hold(t, v, "A", shared.ID, exportable.ID)
	hold(t, v, "B", shared.ID)
	closeCase(t, v, "A")
	if _, err := srv.Root(t).Logical().Write("cryptoshred-transit/keys/"+exportable.Key+"/config", map[string]any{"exportable": true}); err != nil {
		t.Fatal(err)
	}
	plan, err := v.PlanShred(ctx, "A", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for _, it := range plan.Items {
		reasons[it.Backup.ID] = it.Action + ": " + it.Reason
	}
	if !strings.Contains(reasons[shared.ID], "skip: still held by case(s) B") ||
		!strings.Contains(reasons[exportable.ID], "skip: key "+exportable.Key+" is exportable") {
		t.Fatalf("plan reasons: %v", reasons)
	}
	if _, err := v.RunShred(ctx, admin, "A", runOpts(t)); !errors.Is(err, shred.ErrRefused) {
		t.Fatalf("run with nothing due: %v", err)
	}
	if key, _ := v.KeyInfo(ctx, shared.Key); key == nil {
		t.Fatal("held key destroyed")
	}
}

func TestShredGracePeriodAndCancel(t *testing.T) {
	_, v := newVault(t)
	ctx := context.Background()
	backups := closedCase(t, v, "G", 2)
	if ids, err := v.Schedule(ctx, admin, "G", time.Hour); err != nil || len(ids) != 2 {
		t.Fatalf("schedule: %v %v", ids, err)
	}
	if _, err := v.RunShred(ctx, admin, "G", runOpts(t)); !errors.Is(err, shred.ErrRefused) {
		t.Fatalf("run during grace: %v", err)
	}
	if _, err := v.Cancel(ctx, admin, "G"); err != nil {
		t.Fatal(err)
	}
	// Cancelling returns the backups to released: a plain run would
	// destroy them, and they can be scheduled again.
	plan, err := v.PlanShred(ctx, "G", time.Now())
	if err != nil || plan.Count(shred.ActionDestroy) != 2 {
		t.Fatalf("plan after cancel: %+v %v", plan, err)
	}
	if _, err := v.Schedule(ctx, admin, "G", time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	res, err := v.RunShred(ctx, admin, "G", runOpts(t))
	if err != nil || len(res.Destroyed) != 2 {
		t.Fatalf("run after grace: %+v %v", res, err)
	}
	assertShredded(t, v, backups[1])
}

// The plan's check of each ciphertext reads only its size and header, and
// still warns about one swapped for another backup's (same size, another
// key) and one cut short; the backups are still destroyed by their key.
func TestPlanWarnsAboutSwappedOrCutCiphertexts(t *testing.T) {
	_, v := newVault(t)
	backups := closedCase(t, v, "SWAP", 3)
	other, err := os.ReadFile(backups[1].Ciphertext.Path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(backups[0].Ciphertext.Path, other, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(backups[2].Ciphertext.Path, 40); err != nil {
		t.Fatal(err)
	}
	plan, err := v.PlanShred(context.Background(), "SWAP", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{backups[0].ID: "its header names key " + backups[1].Key, backups[1].ID: "", backups[2].ID: "has 40 bytes"}
	for _, it := range plan.Items {
		got := strings.Join(it.Warnings, "; ")
		if it.Action != shred.ActionDestroy || (want[it.Backup.ID] == "") != !strings.Contains(got, "missing or changed") || !strings.Contains(got, want[it.Backup.ID]) {
			t.Errorf("%s: %s, warnings %q, want %q", it.Backup.ID, it.Action, got, want[it.Backup.ID])
		}
	}
}

// A run stopped after marking a backup shredded and before the batch's
// ledger entry leaves its key gone and the ledger silent about it. The
// next run lists it in the ledger and attests it; a run after that does
// not list it again.
func TestRunRecordsWhatAStoppedRunLeftOutOfTheLedger(t *testing.T) {
	srv, v := newVault(t)
	ctx := context.Background()
	backups := closedCase(t, v, "STOPPED", 2)
	stopShredded(t, asRole(t, srv, vault.PolicyAdmin), "STOPPED", backups[0])
	if n := shredtest.DestroyedInLedger(t, v)[backups[0].ID]; n != 0 {
		t.Fatalf("set-up: destruction listed %d times", n)
	}
	res, err := v.RunShred(ctx, admin, "STOPPED", runOpts(t))
	if err != nil || len(res.Destroyed) != 2 {
		t.Fatalf("run after the stopped one: %+v %v", res, err)
	}
	if got := attestedStatement(t, res.Attestation).Predicate.Backups; len(got) != 2 {
		t.Fatalf("attestation covers %d backups, want 2", len(got))
	}
	if _, err := v.RunShred(ctx, admin, "STOPPED", runOpts(t)); err != nil {
		t.Fatalf("a run after that: %v", err)
	}
	assertShreddedAndListedOnce(t, v, backups...)
}

// stopShredded leaves b as a run of caseID stopped before its ledger
// entry does: key deleted, ciphertext deleted, its destruction recorded;
// through plain Vault calls with the backup-admin role's token.
func stopShredded(t *testing.T, raw insider, caseID string, b *catalog.Backup) {
	t.Helper()
	if _, err := raw.l.Delete("cryptoshred-transit/keys/" + b.Key); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(b.Ciphertext.Path); err != nil {
		t.Fatal(err)
	}
	recordByAnother(raw, caseID, b.ID, destructionRecord("stopped run", "key read after delete: not found; transit mount present"))
}
